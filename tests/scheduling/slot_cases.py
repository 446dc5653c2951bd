"""What the slot tests share: the zones and their 2026 transitions, and small builders."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from clinicflow.scheduling.slots import (
    Schedule,
    Slot,
)

NAIROBI = "Africa/Nairobi"
NEW_YORK = "America/New_York"
LONDON = "Europe/London"
LORD_HOWE = "Australia/Lord_Howe"
ZONES = ["UTC", NAIROBI, LONDON, NEW_YORK, LORD_HOWE]
MONDAY = date(2026, 3, 2)
FIFTEEN = timedelta(minutes=15)
ONE_MINUTE = timedelta(minutes=1)

# The zones' 2026 transitions, as the real instant at which each happens.
TRANSITIONS = [
    (NEW_YORK, datetime(2026, 3, 8, 7, tzinfo=UTC)),  # springs forward 02:00 -> 03:00
    (NEW_YORK, datetime(2026, 11, 1, 6, tzinfo=UTC)),  # falls back 02:00 -> 01:00
    (LONDON, datetime(2026, 3, 29, 1, tzinfo=UTC)),  # springs forward 01:00 -> 02:00
    (LONDON, datetime(2026, 10, 25, 1, tzinfo=UTC)),  # falls back 02:00 -> 01:00
    (LORD_HOWE, datetime(2026, 4, 4, 15, tzinfo=UTC)),  # falls back 02:00 -> 01:30
    (LORD_HOWE, datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),  # springs forward 02:00 -> 02:30
]
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
DAY_MINUTES = 24 * 60
LAST_GRID_STEP = 287  # 23:55 on the 5-minute grid, the latest end an interval can have


def at(hour: int, minute: int = 0) -> time:
    return time(hour, minute)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local_day(zone: str, day: date) -> tuple[datetime, datetime]:
    """[midnight, next midnight) of `day` in `zone`, in real time."""
    tz = ZoneInfo(zone)
    return (
        datetime.combine(day, time(), tzinfo=tz),
        datetime.combine(day + timedelta(days=1), time(), tzinfo=tz),
    )


def overlap(a: Slot, b: Slot) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def week(**kwargs: Any) -> Schedule:
    """A valid Nairobi week, with `kwargs` replacing some of its fields."""
    fields: dict[str, Any] = {
        "timezone": NAIROBI,
        "slot_minutes": 15,
        "weekly": {"mon": [(at(9), at(12)), (at(14), at(17))]},
    }
    return Schedule(**(fields | kwargs))
