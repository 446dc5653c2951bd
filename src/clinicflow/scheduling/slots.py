"""A doctor's appointment slots, worked out from their week and the clocks of their zone.

Pure functions over a `Schedule` value, so the service layer only has to load rows and busy
periods, and the arithmetic can be property-tested without a database or a running clock.

Working hours are wall-clock times in the doctor's zone, but slots are real instants. Each
local interval becomes one real (UTC) period, and slots are stepped through that period in
real time. Daylight saving time therefore changes how long a night's period is, never how
long a slot is: it can neither put two slots on the same instant nor make two slots overlap.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate, chain, pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clinicflow.i18n import gettext as _

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
MIN_SLOT_MINUTES = 5
MAX_SLOT_MINUTES = 480

LocalInterval = tuple[time, time]  # wall-clock start, end in the doctor's zone
Slot = tuple[datetime, datetime]  # UTC, aware

# Local dates looked at on either side of a range: one because a zone's date differs from
# UTC's, one more because a spring-forward gap can push a period into the next date, where
# it may overlap (and so merge with) a neighbour whose own date is outside the range.
_DATE_MARGIN = timedelta(days=2)
# The finest step of `datetime`: [t, t + _INSTANT) holds exactly one instant, t.
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True)
class Schedule:
    timezone: str  # IANA name, e.g. "Africa/Nairobi"
    slot_minutes: int
    weekly: Mapping[str, Sequence[LocalInterval]]  # keys from WEEKDAYS; missing key = day off
    # A date's own intervals replace its weekday's; [] = day off.
    exceptions: Mapping[date, Sequence[LocalInterval]] = field(default_factory=dict)


class ScheduleError(ValueError):
    """A schedule that cannot yield slots; `field` points the editor at the culprit.

    Examples of `field`: "weekly.mon[1]", "exceptions.2026-12-25[0]", "slot_minutes",
    "timezone". The message is translated, because the API shows it to the person editing.
    """

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def validate(schedule: Schedule) -> None:
    """Raise `ScheduleError` for the first broken rule.

    Run when a week is saved, and again before any slot arithmetic: a stored schedule that
    slipped past the first check must fail loudly, not step through time by zero minutes.
    """
    _zone(schedule.timezone)
    if not MIN_SLOT_MINUTES <= schedule.slot_minutes <= MAX_SLOT_MINUTES:
        raise ScheduleError(
            _("A slot must last between {low} and {high} minutes.").format(
                low=MIN_SLOT_MINUTES, high=MAX_SLOT_MINUTES
            ),
            "slot_minutes",
        )
    for day, intervals in schedule.weekly.items():
        if day not in WEEKDAYS:
            raise ScheduleError(
                _("Unknown weekday {day}: use mon, tue, wed, thu, fri, sat or sun.").format(
                    day=day
                ),
                f"weekly.{day}",
            )
        _check_day(intervals, f"weekly.{day}")
    for exception_date, intervals in schedule.exceptions.items():
        _check_day(intervals, f"exceptions.{exception_date.isoformat()}")


def working_periods(schedule: Schedule, start: datetime, end: datetime) -> list[Slot]:
    """The whole real periods of work that intersect [start, end), sorted, in UTC.

    Local intervals are made real on their own date. Two that the clock makes overlap (only
    a spring-forward gap can) are merged, so that the slots stepped through them cannot
    overlap; merely touching periods stay apart, as they were apart in the doctor's week.
    """
    _require_aware("start and end", start, end)
    validate(schedule)
    zone = _zone(schedule.timezone)
    real: list[Slot] = []
    day = start.astimezone(zone).date() - _DATE_MARGIN
    last = end.astimezone(zone).date() + _DATE_MARGIN
    while day <= last:
        for local_start, local_end in _intervals_on(schedule, day):
            period = (_real(day, local_start, zone), _real(day, local_end, zone))
            # An interval lying in a spring-forward gap ends (fold=0) no later than it starts.
            if period[0] < period[1]:
                real.append(period)
        day += timedelta(days=1)
    merged: list[Slot] = []
    for period in sorted(real):
        if merged and period[0] < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], period[1]))
        else:
            merged.append(period)
    return [period for period in merged if period[0] < end and period[1] > start]


def schedule_slots(schedule: Schedule, start: datetime, end: datetime) -> list[Slot]:
    """Every slot of the schedule that starts in [start, end), sorted, in UTC.

    Slots are counted from the start of their period rather than from `start`, so asking
    for a different range never moves them.
    """
    length = timedelta(minutes=schedule.slot_minutes)
    return [
        slot
        for period in working_periods(schedule, start, end)
        for slot in _slots_in(period, length)
        if start <= slot[0] < end
    ]


def free_slots(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    *,
    busy: Sequence[Slot],
    now: datetime,
) -> list[Slot]:
    """The slots starting in [start, end) that are neither past nor touched by `busy`.

    Periods are half-open, so a booking ending at 10:00 leaves the 10:00 slot free.
    """
    _require_aware("now and busy periods", now, *chain.from_iterable(busy))
    # Sorted by start, with the latest end so far: a slot [s, e) is busy iff some period
    # starting before e ends after s. A binary search per slot, rather than comparing every
    # slot with every booking, which a busy doctor's month would make quadratic.
    taken = sorted(busy)
    starts = [a for a, _b in taken]
    latest_ends = list(accumulate((b for _a, b in taken), max))
    free: list[Slot] = []
    for slot in schedule_slots(schedule, start, end):
        before = bisect_left(starts, slot[1])
        if slot[0] >= now and not (before and latest_ends[before - 1] > slot[0]):
            free.append(slot)
    return free


def is_slot_start(schedule: Schedule, starts_at: datetime) -> bool:
    """Whether `starts_at` is exactly when one of the schedule's slots begins.

    The one-instant range still reaches the periods of the surrounding days, and slots are
    anchored to their periods, so this agrees with any wider call to `schedule_slots`.
    """
    return bool(schedule_slots(schedule, starts_at, starts_at + _INSTANT))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        # ValueError: keys that are not zone names at all ("", "../x", "zone.tab").
        raise ScheduleError(
            _("Unknown time zone {name}: use an IANA name such as Africa/Nairobi.").format(
                name=name
            ),
            "timezone",
        ) from exc


def _check_day(intervals: Sequence[LocalInterval], where: str) -> None:
    for index, (local_start, local_end) in enumerate(intervals):
        if local_end <= local_start:
            raise ScheduleError(_("An interval must end after it starts."), f"{where}[{index}]")
    # Any overlap shows up between neighbours in start order; blame the later-listed one,
    # which is usually the one just added.
    by_start = sorted(range(len(intervals)), key=lambda index: intervals[index][0])
    for first, second in pairwise(by_start):
        if intervals[second][0] < intervals[first][1]:
            raise ScheduleError(
                _("Intervals on the same day must not overlap."), f"{where}[{max(first, second)}]"
            )


def _intervals_on(schedule: Schedule, day: date) -> Sequence[LocalInterval]:
    if day in schedule.exceptions:
        return schedule.exceptions[day]
    return schedule.weekly.get(WEEKDAYS[day.weekday()], ())


def _real(day: date, clock: time, zone: ZoneInfo) -> datetime:
    # Wall-clock times that do not exist (spring-forward gap) or exist twice (fall-back) are
    # resolved with fold=0, zoneinfo's default: the offset in force before the transition.
    # So an ambiguous time means its first occurrence, and a missing time reads as if the
    # clock had not jumped (02:30 on a New York spring-forward night is 03:30 EDT).
    return datetime.combine(day, clock, tzinfo=zone).replace(fold=0).astimezone(UTC)


def _slots_in(period: Slot, length: timedelta) -> Iterator[Slot]:
    # `period` is in UTC, so this addition is real elapsed time, not wall-clock time.
    slot_start, period_end = period
    while slot_start + length <= period_end:
        yield slot_start, slot_start + length
        slot_start += length


def _require_aware(what: str, *values: datetime) -> None:
    if any(value.utcoffset() is None for value in values):
        raise ValueError(f"{what} must be timezone-aware datetimes")
