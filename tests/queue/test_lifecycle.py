"""The life of a place in the queue: the transition table, the refusal of any other move, and
random sequences of the doctor's and the desk's verbs that never step outside the table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from clinicflow.core.clock import FrozenClock
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.queue import priority
from clinicflow.queue import service as queues
from clinicflow.queue.models import QueueEntry
from clinicflow.queue.schemas import EntryStatus, Severity
from clinicflow.queue.service.lifecycle import ACTIVE, START, TRANSITIONS, transition
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.queue.clinic import QueueClinic

E = EntryStatus
MONDAY_NOON_IN_NAIROBI = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
GRACE_MINUTES = 10
VERBS = ("call", "finish", "skip", "grace_ends", "undo", "readmit", "recall", "cancel")
# The places each verb names are picked among those it can act on, when there are any, so
# that most steps move something rather than being refused.
ACTS_ON = {
    "finish": {E.in_consultation},
    "skip": {E.waiting, E.in_consultation},
    "readmit": {E.skipped, E.no_show},
    "recall": {E.in_consultation, E.skipped, E.no_show},
    "cancel": {E.waiting, E.skipped},
}


def test_the_table_names_every_status_and_a_seen_patient_moves_no_more() -> None:
    assert set(TRANSITIONS) == set(EntryStatus)
    assert TRANSITIONS[E.completed] == frozenset()
    assert START is E.waiting
    assert set(ACTIVE) == {E.waiting, E.in_consultation, E.skipped}


@pytest.mark.parametrize(
    ("start", "to"),
    [(s, t) for s in EntryStatus for t in EntryStatus if t not in TRANSITIONS[s]],
)
def test_a_move_the_table_does_not_hold_is_refused_and_not_written(
    start: EntryStatus, to: EntryStatus
) -> None:
    entry = QueueEntry(status=start)
    with pytest.raises(AppError) as refused:
        transition(entry, to)
    assert (refused.value.code, refused.value.status) == (ErrorCode.invalid_transition, 409)
    assert refused.value.details == {"status": start.value, "to": to.value}
    assert entry.status is start


async def test_an_illegal_move_over_http_answers_409_invalid_transition(
    clinic: QueueClinic,
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    waiting = (await clinic.walk_in(desk, doctor, "+254770000001")).json()
    early = await clinic.act(doctor_headers, f"entries/{waiting['id']}/finish")
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "invalid_transition"
    assert early.json()["error"]["details"] == {"status": "waiting", "to": "completed"}
    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert (await clinic.act(doctor_headers, f"entries/{called.json()['id']}/finish")).is_success
    late = await clinic.act(doctor_headers, f"entries/{waiting['id']}/no-show")
    assert (late.status_code, late.json()["error"]["code"]) == (409, "invalid_transition")
    assert late.json()["error"]["details"] == {"status": "completed", "to": "skipped"}


class Day:
    """One doctor's queue of the day with three walk-ins, driven through the service as the
    doctor (controls) and the desk (new tokens, cancelling), recording every status each
    step moved."""

    def __init__(self, runtime: Runtime, clock: FrozenClock, doctor: User, desk: User) -> None:
        self.runtime, self.clock, self.doctor, self.desk = runtime, clock, doctor, desk
        self.moves: set[tuple[EntryStatus, EntryStatus]] = set()

    @classmethod
    async def open(cls, accounts: Accounts, runtime: Runtime, clock: FrozenClock) -> Day:
        clock.current = MONDAY_NOON_IN_NAIROBI
        doctor = await accounts.make(Role.doctor, profile={"timezone": "Africa/Nairobi"})
        desk = await accounts.make(Role.receptionist)
        for n in range(3):
            async with runtime.transaction() as session:
                await queues.walk_in(
                    session=session,
                    actor=desk,
                    doctor_id=doctor.id,
                    phone=f"+2547{accounts.counter:04d}{n:04d}",
                    name=f"Walk In {n}",
                    severity=Severity.routine,
                    patient_type=None,
                )
        return cls(runtime, clock, doctor, desk)

    async def statuses(self) -> dict[uuid.UUID, EntryStatus]:
        """The doctor's places, by token."""
        async with self.runtime.transaction(write=False) as session:
            rows = await session.execute(
                select(QueueEntry.id, QueueEntry.status)
                .where(QueueEntry.doctor_id == self.doctor.id)
                .order_by(QueueEntry.token)
            )
            return {entry_id: status for entry_id, status in rows}

    async def step(self, verb: str, pick: int = 0) -> None:
        """One verb on the `pick`-th place it can act on (any place if none); then every
        place is where it was, where the table lets it go from there, or new and `START`."""
        before = await self.statuses()
        aimed = [i for i, status in before.items() if status in ACTS_ON.get(verb, ())]
        choices = aimed or list(before)
        await self._do(verb, choices[pick % len(choices)])
        for entry_id, status in (await self.statuses()).items():
            was = before.get(entry_id)
            if was is None:
                assert status is START, (verb, status)
            elif status is not was:
                assert status in TRANSITIONS[was], (verb, was, status)
                self.moves.add((was, status))

    async def _do(self, verb: str, entry_id: uuid.UUID) -> None:
        """A refusal is a fine answer: it changes nothing."""
        doctor = self.doctor
        if verb == "grace_ends":
            self.clock.advance(minutes=GRACE_MINUTES, seconds=1)
        try:
            async with self.runtime.transaction() as session:
                match verb:
                    case "call":
                        await queues.call_next(session=session, actor=doctor, doctor_id=doctor.id)
                    case "finish":
                        await queues.finish(session=session, actor=doctor, entry_id=entry_id)
                    case "skip":
                        await queues.no_show(session=session, actor=doctor, entry_id=entry_id)
                    case "grace_ends":
                        await queues.expire_skipped(session=session)
                    case "undo":
                        await queues.undo(session=session, actor=doctor, doctor_id=doctor.id)
                    case "readmit":
                        await queues.requeue(session=session, actor=self.desk, entry_id=entry_id)
                    case "recall":
                        await queues.recall(session=session, actor=doctor, entry_id=entry_id)
                    case "cancel":
                        await queues.cancel(session=session, actor=self.desk, entry_id=entry_id)
        except AppError:
            pass


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(VERBS), st.integers(min_value=0, max_value=7)),
        min_size=1,
        max_size=14,
    )
)
async def test_no_sequence_of_verbs_moves_a_place_outside_the_table(
    accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock, steps: list[tuple[str, int]]
) -> None:
    day = await Day.open(accounts, runtime, frozen_clock)
    for verb, pick in steps:
        await day.step(verb, pick)


async def test_every_move_in_the_table_is_one_the_verbs_make(
    accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> None:
    """The table holds no move nobody makes: each is made by one of these days."""
    days = [
        ["call", "undo"],
        ["skip", "undo"],
        ["call", "skip", "undo"],
        ["call", "finish"],
        ["skip", "recall"],
        ["skip", "readmit"],
        ["skip", "grace_ends", "recall", "undo"],
        ["cancel"],
    ]
    moves: set[tuple[EntryStatus, EntryStatus]] = set()
    for verbs in days:
        day = await Day.open(accounts, runtime, frozen_clock)
        for verb in verbs:
            await day.step(verb)
        moves |= day.moves
    # A grace period shorter than the undo window: the sweep expires a skipped patient
    # whose no-show the doctor then undoes.
    day = await Day.open(accounts, runtime, frozen_clock)
    admin = await accounts.make(Role.admin)
    async with runtime.transaction() as session:
        await queues.set_rules(
            session=session, actor=admin, rules=priority.Rules(no_show_grace_minutes=1)
        )
    await day.step("skip")
    frozen_clock.advance(minutes=1)
    async with runtime.transaction() as session:
        assert await queues.expire_skipped(session=session) == 1
    await day.step("undo")
    moves |= day.moves | {(E.skipped, E.no_show)}
    assert moves == {(was, to) for was, allowed in TRANSITIONS.items() for to in allowed}
