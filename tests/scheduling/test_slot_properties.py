"""Slot arithmetic as properties.

They run over random weeks in zones with and without DST (Lord Howe moves its clocks by 30
minutes) and over ranges that straddle the 2026 transitions, because those nights are where
slots could be duplicated, overlap or go missing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from clinicflow.scheduling.slots import (
    WEEKDAYS,
    LocalInterval,
    Schedule,
    Slot,
    free_slots,
    is_slot_start,
    schedule_slots,
    working_periods,
)
from tests.scheduling.slot_cases import (
    DAY_MINUTES,
    LAST_GRID_STEP,
    ONE_MINUTE,
    TRANSITIONS,
    YEAR_START,
    ZONES,
    local_day,
    overlap,
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
