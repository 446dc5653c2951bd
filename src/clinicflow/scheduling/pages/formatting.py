"""How the booking pages write days, times and zones: in the reader's language, and in the
doctor's zone, which each page names because the doctor's week is written in it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date

from clinicflow import i18n

RANGE_SEPARATOR = "–"


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


def times(starts: datetime, ends: datetime, zone: ZoneInfo) -> str:
    return f"{starts.astimezone(zone):%H:%M}{RANGE_SEPARATOR}{ends.astimezone(zone):%H:%M}"


def midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())
