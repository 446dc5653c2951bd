"""How the booking pages write days, times and zones: in the reader's language, on the
clinic's clock (`clinic_zone`), which each page names. Only the doctor's weekly-hours editor
writes in the doctor's own zone, because that zone defines the doctor's week."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import i18n
from clinicflow.clinic import service as clinic
from clinicflow.core import moments

RANGE_SEPARATOR = "–"


async def clinic_zone(session: AsyncSession) -> str:
    """The zone every booking page shows its days and times in: the clinic's."""
    return (await clinic.current(session=session)).timezone


def clock_time(at: datetime, zone: str | ZoneInfo) -> str:
    return moments.format_moment(at, zone, style="time")


def _locale() -> str:
    return i18n.current_language()


def day_label(day: date) -> str:
    return format_date(day, "EEEE d MMMM", locale=_locale())


def full_day_label(day: date) -> str:
    return format_date(day, "EEEE d MMMM y", locale=_locale())


def week_label(monday: date) -> str:
    sunday = monday + timedelta(days=6)
    first = format_date(monday, "d MMM", locale=_locale())
    return f"{first} – {format_date(sunday, 'd MMM y', locale=_locale())}"


def zone_label(name: str, at: datetime) -> str:
    """The zone's name and its offset at that moment, like Africa/Nairobi (UTC+03:00)."""
    offset = at.astimezone(ZoneInfo(name)).strftime("%z")
    if name == "UTC" or not offset:
        return name
    return f"{name} (UTC{offset[:3]}:{offset[3:]})"


def times(starts: datetime, ends: datetime, zone: str | ZoneInfo) -> str:
    return f"{clock_time(starts, zone)}{RANGE_SEPARATOR}{clock_time(ends, zone)}"


def midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())
