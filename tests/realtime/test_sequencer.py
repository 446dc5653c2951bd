"""Properties of the per-follower ordering: whatever order and however often a topic's
events arrive, a follower sees each `seq` once and in order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clinicflow.realtime.events import Event
from clinicflow.realtime.sequencer import Sequencer

TOPIC = "consultation:x"


def event(seq: int | None) -> Event:
    return Event(TOPIC, "message.created" if seq else "typing", {"n": seq}, seq=seq)


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[int, int, list[int]]:
    """A starting point, a last seq, and every seq after the start arriving in any order,
    some of them more than once, some older ones repeated too."""
    start = draw(st.integers(min_value=0, max_value=5))
    last = start + draw(st.integers(min_value=1, max_value=40))
    order = draw(st.permutations(range(start + 1, last + 1)))
    repeats = draw(st.lists(st.integers(min_value=1, max_value=last), max_size=20))
    mixed = list(order)
    for position, seq in zip(
        draw(
            st.lists(
                st.integers(min_value=0, max_value=len(mixed)),
                min_size=len(repeats),
                max_size=len(repeats),
            )
        ),
        repeats,
        strict=True,
    ):
        mixed.insert(position, seq)
    return start, last, mixed


@given(arrivals())
def test_every_seq_is_delivered_once_and_in_order(case: tuple[int, int, list[int]]) -> None:
    start, last, mixed = case
    sequencer = Sequencer(last_seq=start)
    delivered: list[int] = []
    for seq in mixed:
        delivered.extend(e.seq for e in sequencer.admit(event(seq)) if e.seq is not None)
        # At every moment what was delivered is the unbroken run after the start.
        assert delivered == list(range(start + 1, start + 1 + len(delivered)))
    assert delivered == list(range(start + 1, last + 1))
    assert not sequencer.waiting


@given(st.permutations(range(1, 30)), st.sets(st.integers(min_value=1, max_value=29)))
def test_giving_up_on_a_gap_releases_what_is_held_in_order(
    order: list[int], lost: set[int]
) -> None:
    sequencer = Sequencer(last_seq=0)
    delivered: list[int] = []
    for seq in order:
        if seq not in lost:
            delivered.extend(e.seq for e in sequencer.admit(event(seq)) if e.seq is not None)
    delivered.extend(e.seq for e in sequencer.give_up_gap() if e.seq is not None)
    assert delivered == sorted(set(range(1, 30)) - lost)
    assert not sequencer.waiting


def test_events_without_seq_pass_straight_through_even_behind_a_gap() -> None:
    sequencer = Sequencer(last_seq=3)
    assert sequencer.admit(event(5)) == []
    assert sequencer.admit(event(None)) == [event(None)]
    assert [e.seq for e in sequencer.admit(event(4))] == [4, 5]


def test_a_follower_that_gave_no_since_starts_from_the_first_event_it_sees() -> None:
    sequencer = Sequencer()
    assert [e.seq for e in sequencer.admit(event(7))] == [7]
    assert sequencer.admit(event(7)) == []
    assert sequencer.admit(event(6)) == []
