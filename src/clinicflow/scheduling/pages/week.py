"""The week of a doctor's free times, as the patient's page and the desk's show it
(`scheduling/_week.html`), kept live by `static/js/availability.js`.

The script does not draw the week itself: when the doctor's topic announces a change, it
asks the page it is on for the block `week_grid` alone (`?block=week_grid`, `week_block`)
and swaps it in, so the week has one template and one renderer, the server's."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core import clock, moments
from clinicflow.core.errors import not_found
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.pages import formatting
from clinicflow.scheduling.pages.people import DoctorCard, doctor
from clinicflow.web.templating import render_block

WEEK_TEMPLATE = "scheduling/_week.html"
WEEK_BLOCK = "week_grid"


@dataclass(frozen=True)
class SlotChoice:
    starts_at: str  # ISO 8601 in UTC: what the form posts back
    label: str  # "09:00" in the doctor's zone


@dataclass(frozen=True)
class DayColumn:
    day: date
    label: str
    is_today: bool
    is_past: bool
    slots: list[SlotChoice]


@dataclass(frozen=True)
class WeekView:
    doctor: DoctorCard
    zone: str
    label: str
    previous_url: str | None
    next_url: str
    days: list[DayColumn]
    # What availability.js needs to keep the week live: the page to fetch it again from
    # (a refused form answers on a POST address), and the week's span in UTC.
    url: str
    starts_at: str
    ends_at: str

    @property
    def has_slots(self) -> bool:
        return any(day.slots for day in self.days)


async def week_view(
    session: AsyncSession,
    settings: Settings,
    *,
    doctor_id: uuid.UUID,
    week: date | datetime | None,
    viewer_id: uuid.UUID | None,
    url_for_week: Callable[[date], str],
) -> WeekView:
    card = await doctor(session, doctor_id)
    # The week's days and times are the clinic's; the doctor's zone only shaped the slots.
    timezone = await formatting.clinic_zone(session)
    zone = ZoneInfo(timezone)
    today = clock.now().astimezone(zone).date()
    if isinstance(week, datetime):  # the week of a time someone tried to take
        week = week.astimezone(zone).date()
    this_monday = formatting.monday(today)
    monday = max(formatting.monday(week or today), this_monday)
    start = formatting.midnight(monday, zone)
    end = formatting.midnight(monday + timedelta(days=7), zone)
    _doctors_zone, free = await scheduling.free_slots(
        session=session,
        settings=settings,
        doctor_id=doctor_id,
        start=start,
        end=end,
        viewer_id=viewer_id,
    )
    by_day: dict[date, list[SlotChoice]] = {}
    for starts, _ends in free:
        by_day.setdefault(moments.local(starts, zone).date(), []).append(
            SlotChoice(starts.astimezone(UTC).isoformat(), formatting.clock_time(starts, zone))
        )
    days = [monday + timedelta(days=offset) for offset in range(7)]
    return WeekView(
        doctor=card,
        zone=formatting.zone_label(timezone, start),
        label=formatting.week_label(monday),
        previous_url=url_for_week(monday - timedelta(days=7)) if monday > this_monday else None,
        next_url=url_for_week(monday + timedelta(days=7)),
        days=[
            DayColumn(d, formatting.day_label(d), d == today, d < today, by_day.get(d, []))
            for d in days
        ],
        url=url_for_week(monday),
        starts_at=start.isoformat(),
        ends_at=end.isoformat(),
    )


def week_block(request: Request, context: dict[str, Any]) -> Response:
    """The week of free times alone, drawn from its page's own context: what availability.js
    fetches and swaps in. A page that shows no week (the desk before a doctor is chosen)
    has none to give."""
    if context.get("week") is None:
        raise not_found()
    return render_block(request, WEEK_TEMPLATE, WEEK_BLOCK, context)
