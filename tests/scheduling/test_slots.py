"""Slot arithmetic: worked examples, validation and daylight saving time.

The properties over random weeks are in test_slot_properties.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from itertools import combinations_with_replacement, pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clinicflow.scheduling.slots import (
    WEEKDAYS,
    LocalInterval,
    Schedule,
    ScheduleError,
    free_slots,
    is_slot_start,
    schedule_slots,
    validate,
    working_periods,
)
from tests.scheduling.slot_cases import (
    FIFTEEN,
    LONDON,
    LORD_HOWE,
    MONDAY,
    NAIROBI,
    NEW_YORK,
    at,
    local_day,
    utc,
    week,
)

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
