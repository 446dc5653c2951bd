"""Any sequence of signals, by either side, at any pace, leaves a consultation's calls in
states the lifecycle allows: at most one live call, an end never undone, times in order,
and a duration exactly for the calls that were answered and ended; a ring that ran out
reads the same before and after it is stored; and once the consultation ends, no call of
it is live."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinicflow.calls import service as calls
from clinicflow.calls.schemas import LIVE, CallOut, CallStatus, Signal
from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationStatus, ConsultationType
from clinicflow.core.clock import FrozenClock
from clinicflow.core.errors import AppError
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic, Person
from tests.factories import Accounts

FINAL = {CallStatus.ended, CallStatus.declined, CallStatus.missed}
STEPS = st.lists(
    st.tuples(
        st.sampled_from([Signal.ring, Signal.accept, Signal.decline, Signal.busy, Signal.end]),
        st.booleans(),  # the doctor, or the patient
        st.integers(min_value=0, max_value=3),  # which call, counting back from the newest
        st.integers(min_value=0, max_value=90),  # seconds that pass first
    ),
    min_size=1,
    max_size=12,
)


def check(rows: list[CallOut], before: dict[uuid.UUID, CallOut]) -> None:
    assert sum(row.status in LIVE for row in rows) <= 1
    for row in rows:
        if row.id in before and before[row.id].status in FINAL:
            assert row == before[row.id], "a finished call changed"
        if row.answered_at is not None:
            assert row.started_at <= row.answered_at
        if row.ended_at is not None:
            assert (row.answered_at or row.started_at) <= row.ended_at
        answered_and_over = row.status is CallStatus.ended and row.answered_at is not None
        assert (row.duration_seconds is not None) == answered_and_over
        if answered_and_over:
            assert row.ended_at is not None
            assert row.answered_at is not None
            assert row.duration_seconds == int((row.ended_at - row.answered_at).total_seconds())
        assert (row.status in LIVE) == (row.ended_at is None)
        assert (row.answered_at is not None) <= (
            row.status in {CallStatus.connected, CallStatus.ended}
        )


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS, then_ends=st.booleans())
async def test_no_sequence_of_signals_leaves_calls_outside_the_lifecycle(
    accounts: Accounts,
    runtime: Runtime,
    clinic: Clinic,
    frozen_clock: FrozenClock,
    steps: list[tuple[Signal, bool, int, int]],
    then_ends: bool,
) -> None:
    patient = Person(await accounts.make(Role.patient), {})
    doctor = Person(await accounts.make(Role.doctor), {})
    consultation = await clinic.consultation(
        patient, doctor, ConsultationStatus.active, ConsultationType.video
    )
    before: dict[uuid.UUID, CallOut] = {}
    for kind, by_doctor, back, seconds in steps:
        frozen_clock.advance(seconds=seconds)
        ids = list(before)
        call_id = ids[-1 - back] if back < len(ids) else None
        actor = (doctor if by_doctor else patient).user
        try:
            async with runtime.transaction() as session:
                await calls.signal(
                    session=session,
                    actor=actor,
                    consultation_id=consultation.id,
                    kind=kind,
                    call_id=call_id,
                    data={},
                )
        except AppError:
            pass
        async with runtime.transaction() as session:
            rows = await calls.history(
                session=session, actor=doctor.user, consultation_id=consultation.id
            )
        check(rows, before)
        before = {row.id: row for row in rows}
    if not then_ends:
        return
    async with runtime.transaction() as session:
        await consultations.end(session=session, actor=doctor.user, consultation_id=consultation.id)
    async with runtime.transaction() as session:
        rows = await calls.history(
            session=session, actor=doctor.user, consultation_id=consultation.id
        )
    check(rows, before)
    assert not any(row.status in LIVE for row in rows)
