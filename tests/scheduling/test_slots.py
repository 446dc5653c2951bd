"""Slot arithmetic: worked examples, validation, daylight saving time, and properties.

The properties run over random weeks in zones with and without DST (Lord Howe moves its
clocks by 30 minutes) and over ranges that straddle the 2026 transitions, because those
nights are where slots could be duplicated, overlap or go missing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from itertools import combinations_with_replacement, pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinicflow.scheduling.slots import (
    WEEKDAYS,
    LocalInterval,
    Schedule,
    ScheduleError,
    Slot,
    free_slots,
    is_slot_start,
    schedule_slots,
    validate,
    working_periods,
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


# --- worked examples ---------------------------------------------------------------------------


def test_a_nairobi_monday_has_24_quarter_hour_slots_from_six_utc() -> None:
    got = schedule_slots(week(), *local_day(NAIROBI, MONDAY))

    assert len(got) == 24
    assert got[0] == (utc(2026, 3, 2, 6), utc(2026, 3, 2, 6, 15))
    assert got[11] == (utc(2026, 3, 2, 8, 45), utc(2026, 3, 2, 9))
    assert got[12] == (utc(2026, 3, 2, 11), utc(2026, 3, 2, 11, 15))
    assert got[-1] == (utc(2026, 3, 2, 13, 45), utc(2026, 3, 2, 14))
    assert all(start.tzinfo is UTC and end.tzinfo is UTC for start, end in got)


def test_only_the_weekdays_of_the_week_have_slots() -> None:
    got = schedule_slots(week(), utc(2026, 3, 1), utc(2026, 3, 15))

    assert {start.astimezone(ZoneInfo(NAIROBI)).date() for start, _ in got} == {
        MONDAY,
        date(2026, 3, 9),
    }
    assert len(got) == 48


def test_an_empty_exception_is_a_day_off() -> None:
    schedule = week(exceptions={MONDAY: []})

    assert schedule_slots(schedule, *local_day(NAIROBI, MONDAY)) == []
    assert len(schedule_slots(schedule, *local_day(NAIROBI, date(2026, 3, 9)))) == 24


def test_an_exception_gives_a_sunday_its_own_hours() -> None:
    sunday = date(2026, 3, 8)
    schedule = week(exceptions={sunday: [(at(10), at(12))]})

    got = schedule_slots(schedule, *local_day(NAIROBI, sunday))

    assert len(got) == 8
    assert got[0][0] == utc(2026, 3, 8, 7)
    assert schedule_slots(schedule, *local_day(NAIROBI, date(2026, 3, 15))) == []


def test_an_exception_replaces_the_weekday_hours_instead_of_adding_to_them() -> None:
    schedule = week(exceptions={MONDAY: [(at(10), at(11))]})

    got = schedule_slots(schedule, *local_day(NAIROBI, MONDAY))

    assert [start for start, _ in got] == [utc(2026, 3, 2, 7) + FIFTEEN * n for n in range(4)]


def test_a_slot_length_that_does_not_divide_an_interval_leaves_the_remainder_unused() -> None:
    got = schedule_slots(week(slot_minutes=50), *local_day(NAIROBI, MONDAY))

    # Three 50-minute slots in each 3-hour interval; the last 30 minutes of each are idle.
    assert [start.astimezone(ZoneInfo(NAIROBI)).time() for start, _ in got] == [
        at(9),
        at(9, 50),
        at(10, 40),
        at(14),
        at(14, 50),
        at(15, 40),
    ]
    assert got[2][1] == utc(2026, 3, 2, 8, 30)


def test_touching_intervals_each_start_their_own_slots() -> None:
    schedule = week(slot_minutes=50, weekly={"mon": [(at(9), at(12)), (at(12), at(13))]})

    starts = [s for s, _ in schedule_slots(schedule, *local_day(NAIROBI, MONDAY))]

    assert starts[-1] == utc(2026, 3, 2, 9)  # 12:00 local, not carried over from 11:30
    assert len(starts) == 4


def test_slots_are_anchored_to_their_period_not_to_the_range() -> None:
    schedule = week()

    got = schedule_slots(schedule, utc(2026, 3, 2, 6, 7), utc(2026, 3, 2, 6, 31))

    assert [start for start, _ in got] == [utc(2026, 3, 2, 6, 15), utc(2026, 3, 2, 6, 30)]


def test_working_periods_are_whole_even_when_the_range_cuts_them() -> None:
    got = working_periods(week(), utc(2026, 3, 2, 7), utc(2026, 3, 2, 11, 1))

    assert got == [
        (utc(2026, 3, 2, 6), utc(2026, 3, 2, 9)),
        (utc(2026, 3, 2, 11), utc(2026, 3, 2, 14)),
    ]


def test_ranges_given_in_any_zone_mean_the_same_instants() -> None:
    start, end = local_day(NAIROBI, MONDAY)
    london = ZoneInfo(LONDON)

    assert schedule_slots(week(), start.astimezone(london), end.astimezone(london)) == (
        schedule_slots(week(), start, end)
    )


def test_free_slots_drop_busy_and_past_slots_but_keep_half_open_neighbours() -> None:
    busy = [
        (utc(2026, 3, 2, 7), utc(2026, 3, 2, 7, 15)),
        (utc(2026, 3, 2, 11, 5), utc(2026, 3, 2, 11, 20)),
    ]

    got = free_slots(week(), *local_day(NAIROBI, MONDAY), busy=busy, now=utc(2026, 3, 2, 6, 45))
    starts = [start for start, _ in got]

    assert starts[0] == utc(2026, 3, 2, 6, 45)  # starting exactly now is not in the past
    assert utc(2026, 3, 2, 6, 30) not in starts
    assert utc(2026, 3, 2, 7) not in starts
    assert utc(2026, 3, 2, 7, 15) in starts  # [7:00, 7:15) and [7:15, 7:30) do not overlap
    assert utc(2026, 3, 2, 11) not in starts  # partly covered by [11:05, 11:20)
    assert utc(2026, 3, 2, 11, 15) not in starts
    assert utc(2026, 3, 2, 11, 30) in starts
    assert len(got) == 24 - 3 - 1 - 2


def test_is_slot_start_knows_the_exact_starts() -> None:
    schedule = week()

    assert is_slot_start(schedule, utc(2026, 3, 2, 6))
    assert is_slot_start(schedule, datetime(2026, 3, 2, 16, 45, tzinfo=ZoneInfo(NAIROBI)))
    assert not is_slot_start(schedule, utc(2026, 3, 2, 6, 5))
    assert not is_slot_start(schedule, utc(2026, 3, 2, 14))  # the end of the day's last slot
    assert not is_slot_start(schedule, utc(2026, 3, 3, 6))  # a Tuesday


NAIVE = datetime(2026, 3, 2, 9)
AWARE = utc(2026, 3, 2, 9)


@pytest.mark.parametrize(
    "call",
    [
        lambda: working_periods(week(), NAIVE, AWARE),
        lambda: schedule_slots(week(), AWARE, NAIVE),
        lambda: free_slots(week(), AWARE, AWARE, busy=[], now=NAIVE),
        lambda: free_slots(week(), AWARE, AWARE, busy=[(AWARE, NAIVE)], now=AWARE),
        lambda: is_slot_start(week(), NAIVE),
    ],
    ids=["working_periods", "schedule_slots", "free_slots-now", "free_slots-busy", "is_slot_start"],
)
def test_naive_datetimes_are_refused(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call()


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "time zone"),
        ({"timezone": ""}, "timezone", "time zone"),
        ({"timezone": "../etc/passwd"}, "timezone", "time zone"),
        ({"slot_minutes": 4}, "slot_minutes", "between 5 and 480"),
        ({"slot_minutes": 481}, "slot_minutes", "between 5 and 480"),
        ({"slot_minutes": 0}, "slot_minutes", "between 5 and 480"),
        ({"weekly": {"monday": [(at(9), at(12))]}}, "weekly.monday", "weekday"),
        ({"weekly": {"mon": [(at(9), at(12)), (at(14), at(13))]}}, "weekly.mon[1]", "end after"),
        ({"weekly": {"tue": [(at(9), at(9))]}}, "weekly.tue[0]", "end after"),
        ({"weekly": {"mon": [(at(9), at(12)), (at(11), at(13))]}}, "weekly.mon[1]", "overlap"),
        ({"weekly": {"mon": [(at(11), at(13)), (at(9), at(12))]}}, "weekly.mon[1]", "overlap"),
        (
            {"weekly": {"wed": [(at(8), at(9)), (at(10), at(16)), (at(12), at(13))]}},
            "weekly.wed[2]",
            "overlap",
        ),
        (
            {"exceptions": {date(2026, 12, 25): [(at(10), at(9))]}},
            "exceptions.2026-12-25[0]",
            "end after",
        ),
        (
            {"exceptions": {date(2026, 12, 25): [(at(9), at(12)), (at(10), at(11))]}},
            "exceptions.2026-12-25[1]",
            "overlap",
        ),
    ],
)
def test_validate_names_the_field_at_fault(
    changes: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ScheduleError, match=message) as caught:
        validate(week(**changes))

    assert caught.value.field == field


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"slot_minutes": 5},
        {"slot_minutes": 480},
        {"weekly": {}},
        {"weekly": {"mon": [(at(9), at(12)), (at(12), at(13))]}},
        {"weekly": {day: [(at(0), at(23, 59))] for day in WEEKDAYS}},
        {"exceptions": {date(2026, 12, 25): []}},
        {"timezone": LORD_HOWE},
    ],
)
def test_validate_accepts_good_weeks(changes: dict[str, Any]) -> None:
    validate(week(**changes))


def test_slot_arithmetic_refuses_an_invalid_schedule() -> None:
    with pytest.raises(ScheduleError) as caught:
        schedule_slots(week(slot_minutes=0), *local_day(NAIROBI, MONDAY))

    assert caught.value.field == "slot_minutes"


# --- daylight saving time ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "interval", "real_start", "real_end"),
    [
        # Spring forward: the clock skips an hour, so 01:00-04:00 is two real hours.
        (NEW_YORK, date(2026, 3, 8), (at(1), at(4)), utc(2026, 3, 8, 6), utc(2026, 3, 8, 8)),
        (LONDON, date(2026, 3, 29), (at(1), at(4)), utc(2026, 3, 29, 1), utc(2026, 3, 29, 3)),
        (
            LORD_HOWE,
            date(2026, 10, 4),
            (at(1), at(4)),
            utc(2026, 10, 3, 14, 30),
            utc(2026, 10, 3, 17),
        ),
        # Fall back: an hour happens twice, so 01:00-03:00 is three real hours.
        (NEW_YORK, date(2026, 11, 1), (at(1), at(3)), utc(2026, 11, 1, 5), utc(2026, 11, 1, 8)),
        (LONDON, date(2026, 10, 25), (at(1), at(3)), utc(2026, 10, 25, 0), utc(2026, 10, 25, 3)),
        (LORD_HOWE, date(2026, 4, 5), (at(1), at(3)), utc(2026, 4, 4, 14), utc(2026, 4, 4, 16, 30)),
    ],
    ids=[
        "new-york-spring",
        "london-spring",
        "lord-howe-spring",
        "new-york-fall",
        "london-fall",
        "lord-howe-fall",
    ],
)
def test_a_transition_night_gets_the_real_time_between_its_wall_clock_times(
    zone: str, day: date, interval: LocalInterval, real_start: datetime, real_end: datetime
) -> None:
    schedule = Schedule(zone, 15, {WEEKDAYS[day.weekday()]: [interval]})

    got = schedule_slots(schedule, *local_day(zone, day))

    assert working_periods(schedule, *local_day(zone, day)) == [(real_start, real_end)]
    assert len(got) == (real_end - real_start) / FIFTEEN
    assert got[0][0] == real_start
    assert got[-1][1] == real_end
    assert len({start for start, _ in got}) == len(got)
    assert all(a[1] == b[0] for a, b in pairwise(got))


def test_the_repeated_hour_of_a_fall_back_night_yields_distinct_instants() -> None:
    zone = ZoneInfo(NEW_YORK)
    schedule = Schedule(NEW_YORK, 30, {"sun": [(at(1), at(3))]})

    got = schedule_slots(schedule, *local_day(NEW_YORK, date(2026, 11, 1)))

    # Wall clocks read 01:00 and 01:30 twice: first in EDT, then in EST, an hour apart.
    assert [start.astimezone(zone).isoformat() for start, _ in got] == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-01T02:00:00-05:00",
        "2026-11-01T02:30:00-05:00",
    ]


def test_an_ambiguous_wall_clock_time_means_its_first_occurrence() -> None:
    schedule = Schedule(NEW_YORK, 15, {"sun": [(at(1, 15), at(1, 45))]})

    assert working_periods(schedule, *local_day(NEW_YORK, date(2026, 11, 1))) == [
        (utc(2026, 11, 1, 5, 15), utc(2026, 11, 1, 5, 45))
    ]


def test_a_wall_clock_time_in_the_gap_reads_as_if_the_clock_had_not_jumped() -> None:
    # fold=0: 02:30 on the spring-forward night is 02:30 EST, i.e. 03:30 EDT.
    schedule = Schedule(NEW_YORK, 15, {"sun": [(at(2, 30), at(5))]})

    assert working_periods(schedule, *local_day(NEW_YORK, date(2026, 3, 8))) == [
        (utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 9))
    ]


def test_an_interval_entirely_inside_the_gap_has_no_real_time() -> None:
    schedule = Schedule(NEW_YORK, 15, {"sun": [(at(2, 30), at(3, 15))]})

    assert schedule_slots(schedule, *local_day(NEW_YORK, date(2026, 3, 8))) == []


def test_intervals_the_gap_makes_overlap_merge_into_one_period() -> None:
    # 02:45 does not exist and reads as 03:45 EDT, past the start of the 03:00 interval.
    schedule = Schedule(NEW_YORK, 15, {"sun": [(at(1), at(2, 45)), (at(3), at(4))]})
    day = local_day(NEW_YORK, date(2026, 3, 8))

    got = schedule_slots(schedule, *day)

    assert working_periods(schedule, *day) == [(utc(2026, 3, 8, 6), utc(2026, 3, 8, 8))]
    assert [start for start, _ in got] == [utc(2026, 3, 8, 6) + FIFTEEN * n for n in range(8)]


def test_slots_keep_their_real_length_across_a_transition_inside_them() -> None:
    # A 90-minute slot from 01:00 EST ends at 03:30 EDT: real time, not wall-clock time.
    schedule = Schedule(NEW_YORK, 90, {"sun": [(at(1), at(6))]})

    got = schedule_slots(schedule, *local_day(NEW_YORK, date(2026, 3, 8)))

    assert got[0] == (utc(2026, 3, 8, 6), utc(2026, 3, 8, 7, 30))
    assert len(got) == 2  # four real hours, 01:00 EST to 06:00 EDT


@pytest.mark.parametrize(
    ("zone", "night"),
    [(NEW_YORK, date(2026, 3, 8)), (LONDON, date(2026, 3, 29)), (LORD_HOWE, date(2026, 10, 4))],
)
def test_every_two_intervals_around_a_spring_gap_give_disjoint_slots(
    zone: str, night: date
) -> None:
    # Exhaustive on a 15-minute grid: random weeks rarely end one interval inside the gap
    # and start the next in the real time that the first one's end reaches past the gap.
    grid = [time(minutes // 60, minutes % 60) for minutes in range(0, 241, 15)]
    five = timedelta(minutes=5)
    day = local_day(zone, night)
    for a, b, c, d in combinations_with_replacement(grid, 4):
        if a == b or c == d:
            continue
        schedule = Schedule(zone, 5, {}, {night: [(a, b), (c, d)]})
        got = schedule_slots(schedule, *day)
        assert all(before[1] <= after[0] for before, after in pairwise(got))
        assert len(got) == sum(
            (end - start) // five for start, end in working_periods(schedule, *day)
        )


# --- properties --------------------------------------------------------------------------------


def grid_time(step: int) -> time:
    """A time of day on the 5-minute grid."""
    return time(step // 12, step % 12 * 5)


@st.composite
def day_intervals(draw: st.DrawFn) -> list[LocalInterval]:
    """Non-overlapping (possibly touching) intervals of one day, in any order."""
    steps = st.one_of(st.integers(0, 3), st.integers(0, 48))
    lengths = st.one_of(st.integers(1, 12), st.integers(1, 96))
    intervals: list[LocalInterval] = []
    cursor = 0
    for gap, length in draw(st.lists(st.tuples(steps, lengths), max_size=6)):
        if cursor + gap + length > LAST_GRID_STEP:
            break
        intervals.append((grid_time(cursor + gap), grid_time(cursor + gap + length)))
        cursor += gap + length
    return draw(st.permutations(intervals))


@st.composite
def night_intervals(draw: st.DrawFn) -> list[LocalInterval]:
    """Up to six intervals between 00:00 and 05:00, keeping those that fit between the others.

    So that on a transition night intervals often end in the skipped or repeated hour,
    start in it, straddle it, or sit just after it.
    """
    drawn = draw(st.lists(st.tuples(st.integers(0, 59), st.integers(1, 24)), max_size=6))
    kept: list[tuple[int, int]] = []
    for begin, length in sorted(drawn):
        if not kept or begin >= kept[-1][1]:
            kept.append((begin, min(begin + length, 60)))
    return draw(st.permutations([(grid_time(a), grid_time(b)) for a, b in kept]))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Schedule, datetime, datetime]:
    """A random week and a range of up to 31 days, often across a DST transition.

    Across a transition, the transition's night often gets hours of its own in the small
    hours, where the clock jumps.
    """
    exceptions: dict[date, list[LocalInterval]] = {}
    if draw(st.booleans()):
        zone, anchor = draw(st.sampled_from(TRANSITIONS))
        start = anchor - timedelta(minutes=draw(st.integers(0, 3 * DAY_MINUTES)))
        end = anchor + timedelta(minutes=draw(st.integers(1, 28 * DAY_MINUTES)))
        if draw(st.booleans()):
            night = anchor.astimezone(ZoneInfo(zone)).date()
            exceptions[night] = draw(night_intervals())
    else:
        zone = draw(st.sampled_from(ZONES))
        start = YEAR_START + timedelta(minutes=draw(st.integers(0, 365 * DAY_MINUTES)))
        end = start + timedelta(minutes=draw(st.integers(1, 31 * DAY_MINUTES)))
    near = st.integers(-3, 33).map(lambda days: start.date() + timedelta(days=days))
    schedule = Schedule(
        timezone=zone,
        slot_minutes=draw(st.integers(5, 120)),
        weekly=draw(st.dictionaries(st.sampled_from(WEEKDAYS), day_intervals(), max_size=7)),
        exceptions=draw(st.dictionaries(near, day_intervals(), max_size=4)) | exceptions,
    )
    # The caller's zone must not matter, only the instants.
    caller = ZoneInfo(draw(st.sampled_from(ZONES)))
    return schedule, start.astimezone(caller), end.astimezone(caller)


def minutes_between(start: datetime, end: datetime) -> int:
    """Real minutes from start to end.

    `end - start` is wall-clock time when both share a tzinfo (Python's rule), so across a
    fall-back night a one-minute range measured that way is 59 minutes long backwards.
    """
    return int((end.astimezone(UTC) - start.astimezone(UTC)) / ONE_MINUTE)


def busy_and_now(
    data: st.DataObject, slots: list[Slot], start: datetime, end: datetime
) -> tuple[list[Slot], datetime]:
    """Some of the schedule's own slots, a few arbitrary periods, and a moment near the range."""
    busy = data.draw(st.lists(st.sampled_from(slots), max_size=20)) if slots else []
    span = minutes_between(start, end)
    start = start.astimezone(UTC)
    arbitrary = st.tuples(st.integers(-60, span + 60), st.integers(0, 180)).map(
        lambda offsets: (
            start + ONE_MINUTE * offsets[0],
            start + ONE_MINUTE * (offsets[0] + offsets[1]),
        )
    )
    busy += data.draw(st.lists(arbitrary, max_size=3))
    now = start + ONE_MINUTE * data.draw(st.integers(-DAY_MINUTES, span + DAY_MINUTES))
    return busy, now


PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(case=cases())
def test_slots_last_slot_minutes_are_sorted_and_never_overlap(
    case: tuple[Schedule, datetime, datetime],
) -> None:
    schedule, start, end = case
    length = timedelta(minutes=schedule.slot_minutes)

    got = schedule_slots(schedule, start, end)

    for slot_start, slot_end in got:
        assert slot_start.tzinfo is UTC
        assert slot_end - slot_start == length
        assert start <= slot_start < end
    for before, after in pairwise(got):
        assert before[1] <= after[0]


@PROPERTY
@given(case=cases())
def test_slots_lie_inside_working_periods(case: tuple[Schedule, datetime, datetime]) -> None:
    schedule, start, end = case

    periods = working_periods(schedule, start, end)

    for period_start, period_end in periods:
        assert period_start < end
        assert period_end > start
    for before, after in pairwise(periods):
        assert before[1] <= after[0]
    for slot_start, slot_end in schedule_slots(schedule, start, end):
        assert any(a <= slot_start and slot_end <= b for a, b in periods)


@PROPERTY
@given(case=cases(), data=st.data())
def test_free_slots_avoid_busy_periods_and_the_past(
    case: tuple[Schedule, datetime, datetime], data: st.DataObject
) -> None:
    schedule, start, end = case
    busy, now = busy_and_now(data, schedule_slots(schedule, start, end), start, end)

    for slot in free_slots(schedule, start, end, busy=busy, now=now):
        assert slot[0] >= now
        assert not any(overlap(slot, taken) for taken in busy)


@PROPERTY
@given(case=cases())
def test_slots_cover_each_working_period_but_a_tail_shorter_than_a_slot(
    case: tuple[Schedule, datetime, datetime],
) -> None:
    schedule, start, end = case
    length = timedelta(minutes=schedule.slot_minutes)
    periods = working_periods(schedule, start, end)
    if not periods:
        return
    every = schedule_slots(schedule, periods[0][0], periods[-1][1])

    for period_start, period_end in periods:
        inside = [s for s in every if period_start <= s[0] and s[1] <= period_end]
        covered = sum((s[1] - s[0] for s in inside), timedelta())
        assert covered == (period_end - period_start) - (period_end - period_start) % length
        assert [s[0] for s in inside] == [period_start + length * n for n in range(len(inside))]


@PROPERTY
@given(case=cases(), data=st.data())
def test_free_slots_are_exactly_the_slots_neither_busy_nor_past(
    case: tuple[Schedule, datetime, datetime], data: st.DataObject
) -> None:
    schedule, start, end = case
    every = schedule_slots(schedule, start, end)
    busy, now = busy_and_now(data, every, start, end)

    expected = [s for s in every if s[0] >= now and not any(overlap(s, b) for b in busy)]

    assert free_slots(schedule, start, end, busy=busy, now=now) == expected


@PROPERTY
@given(case=cases(), data=st.data())
def test_is_slot_start_accepts_slot_starts_and_nothing_a_minute_off(
    case: tuple[Schedule, datetime, datetime], data: st.DataObject
) -> None:
    schedule, start, end = case
    every = schedule_slots(schedule, start, end)
    sample = data.draw(st.lists(st.sampled_from(every), max_size=10)) if every else []

    for slot_start, _ in sample:
        assert is_slot_start(schedule, slot_start)
        assert not is_slot_start(schedule, slot_start + ONE_MINUTE)
        assert not is_slot_start(schedule, slot_start - ONE_MINUTE)


@PROPERTY
@given(case=cases(), data=st.data())
def test_splitting_the_range_neither_adds_nor_loses_slots(
    case: tuple[Schedule, datetime, datetime], data: st.DataObject
) -> None:
    schedule, start, end = case
    elapsed = ONE_MINUTE * data.draw(st.integers(0, minutes_between(start, end)))
    middle = (start.astimezone(UTC) + elapsed).astimezone(start.tzinfo)

    assert schedule_slots(schedule, start, middle) + schedule_slots(schedule, middle, end) == (
        schedule_slots(schedule, start, end)
    )


@PROPERTY
@given(
    transition=st.sampled_from(TRANSITIONS),
    intervals=night_intervals(),
    slot_minutes=st.integers(5, 30),
)
def test_transition_nights_neither_overlap_nor_lose_slots(
    transition: tuple[str, datetime], intervals: list[LocalInterval], slot_minutes: int
) -> None:
    zone, instant = transition
    night = instant.astimezone(ZoneInfo(zone)).date()
    schedule = Schedule(zone, slot_minutes, {}, {night: intervals})
    length = timedelta(minutes=slot_minutes)
    start, end = local_day(zone, night)

    periods = working_periods(schedule, start, end)
    got = schedule_slots(schedule, start, end)

    for before, after in pairwise(got):
        assert before[1] <= after[0]
    for period_start, period_end in periods:
        inside = [s for s in got if period_start <= s[0] and s[1] <= period_end]
        assert len(inside) == (period_end - period_start) // length
    assert len(got) == sum((b - a) // length for a, b in periods)
