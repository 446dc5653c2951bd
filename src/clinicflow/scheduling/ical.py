"""iCalendar rendering of appointments, for a single download or a subscribed feed.

Only what a calendar needs goes out (times, doctor, mode, status); the reason for the
visit stays in clinicflow, because a calendar is often synced to less private places.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from icalendar import Calendar, Event

from clinicflow.scheduling.schemas import AppointmentStatus, Mode

PRODUCT_ID = "-//clinicflow//appointments//EN"


@dataclass(frozen=True)
class CalendarEntry:
    uid: str
    starts_at: datetime
    ends_at: datetime
    title: str
    mode: Mode
    status: AppointmentStatus
    updated_at: datetime


def render(entries: Iterable[CalendarEntry], *, name: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    for entry in entries:
        event = Event()
        event.add("uid", entry.uid)
        event.add("dtstamp", entry.updated_at)
        event.add("dtstart", entry.starts_at)
        event.add("dtend", entry.ends_at)
        event.add("summary", entry.title)
        event.add("location", "Online" if entry.mode is Mode.online else "In person")
        event.add(
            "status", "CANCELLED" if entry.status is AppointmentStatus.cancelled else "CONFIRMED"
        )
        calendar.add_component(event)
    body: bytes = calendar.to_ical()
    return body
