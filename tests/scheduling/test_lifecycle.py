"""The appointment's lifecycle: the transition table, the one function that applies it, the
verbs the queue calls instead of writing `appointment.status`, and the views other domains
read instead of the rows."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core.clock import FrozenClock
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.models import Appointment
from clinicflow.scheduling.schemas import AppointmentStatus, AppointmentView, Mode
from clinicflow.scheduling.service.lifecycle import TRANSITIONS, transition
from tests.factories import Accounts

S = AppointmentStatus
# The frozen clock stands at Monday 2026-03-02 09:00 UTC; the doctor works every weekday
# 08:00-18:00 in Nairobi (UTC+3) in 15-minute slots, so Tuesday 09:00 there is 06:00 UTC.
TUESDAY_9 = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
WORKING_DAY = [("08:00", "18:00")]

Verb = Callable[..., Awaitable[AppointmentView]]
VERBS: dict[str, tuple[Verb, AppointmentStatus]] = {
    "check in": (scheduling.check_in_appointment, S.checked_in),
    "begin": (scheduling.begin_appointment_visit, S.in_consultation),
    "complete": (scheduling.complete_appointment, S.completed),
    "missed": (scheduling.mark_appointment_missed, S.no_show),
    "readmit": (scheduling.readmit_appointment, S.checked_in),
}


@dataclass
class Visits:
    """A doctor, the front desk, and a new patient with a booked appointment on demand."""

    accounts: Accounts
    runtime: Runtime
    settings: Settings
    doctor: User
    desk: User
    slots: itertools.count[int] = field(default_factory=itertools.count)

    async def booked(
        self, patient: User | None = None, *, mode: Mode = Mode.in_person
    ) -> uuid.UUID:
        patient = patient or await self.accounts.make(Role.patient)
        starts_at = TUESDAY_9 + timedelta(minutes=15 * next(self.slots))
        async with self.runtime.transaction() as session:
            appointment = await scheduling.book(
                session=session,
                settings=self.settings,
                actor=patient,
                doctor_id=self.doctor.id,
                starts_at=starts_at,
                mode=mode,
                reason="Cough",
            )
        return appointment.id

    async def do(self, verb: Verb, appointment_id: uuid.UUID, **extra: Any) -> AppointmentView:
        async with self.runtime.transaction() as session:
            return await verb(session=session, appointment_id=appointment_id, **extra)

    async def cancel(self, appointment_id: uuid.UUID) -> AppointmentStatus:
        async with self.runtime.transaction() as session:
            cancelled = await scheduling.cancel(
                session=session,
                settings=self.settings,
                actor=self.desk,
                appointment_id=appointment_id,
            )
            return cancelled.status

    async def view(self, appointment_id: uuid.UUID) -> AppointmentView:
        async with self.runtime.transaction(write=False) as session:
            found = await scheduling.find_appointment(
                session=session, appointment_id=appointment_id
            )
        assert found is not None
        return found

    async def status(self, appointment_id: uuid.UUID) -> AppointmentStatus:
        return (await self.view(appointment_id)).status

    async def walk(self, appointment_id: uuid.UUID, *verbs: str) -> None:
        for name in verbs:
            await self.do(VERBS[name][0], appointment_id)


@pytest.fixture
async def visits(
    accounts: Accounts, runtime: Runtime, settings: Settings, frozen_clock: FrozenClock
) -> Visits:
    doctor = await accounts.make(Role.doctor, profile={"timezone": "Africa/Nairobi"})
    async with runtime.transaction() as session:
        await scheduling.set_availability(
            session=session,
            actor=doctor,
            doctor_id=doctor.id,
            timezone="Africa/Nairobi",
            slot_minutes=15,
            weekly={day: WORKING_DAY for day in ("mon", "tue", "wed", "thu", "fri")},
            exceptions=[],
        )
    desk = await accounts.make(Role.receptionist)
    return Visits(accounts, runtime, settings, doctor, desk)


def refused(error: pytest.ExceptionInfo[AppError]) -> bool:
    return error.value.code is ErrorCode.invalid_transition and error.value.status == 409


# --- the table and the one function that applies it ------------------------------------------


def test_the_table_lists_the_moves_of_booking_and_of_the_queue() -> None:
    assert {
        S.booked: {S.checked_in, S.cancelled},
        S.checked_in: {S.in_consultation, S.no_show, S.cancelled},
        S.in_consultation: {S.completed, S.no_show, S.checked_in},
        S.no_show: {S.in_consultation, S.checked_in},
        S.completed: set(),
        S.cancelled: set(),
    } == TRANSITIONS


def test_a_move_the_table_does_not_list_is_refused_with_409() -> None:
    appointment = Appointment(status=S.booked)
    with pytest.raises(AppError) as error:
        transition(appointment, S.completed)
    assert refused(error)
    assert error.value.details == {"status": "booked", "to": "completed"}
    assert appointment.status is S.booked


@given(start=st.sampled_from(S), moves=st.lists(st.sampled_from(S), max_size=12))
def test_transition_follows_the_table_and_nothing_else(
    start: AppointmentStatus, moves: list[AppointmentStatus]
) -> None:
    appointment = Appointment(status=start)
    for to in moves:
        before = appointment.status
        if to in TRANSITIONS[before]:
            transition(appointment, to)
            assert appointment.status is to
        else:
            with pytest.raises(AppError) as error:
                transition(appointment, to)
            assert refused(error)
            assert appointment.status is before


def test_a_verb_may_narrow_where_its_move_starts() -> None:
    appointment = Appointment(status=S.booked)
    with pytest.raises(AppError) as error:
        transition(appointment, S.checked_in, only_from=[S.no_show])
    assert refused(error)
    assert appointment.status.value == "booked"
    transition(appointment, S.checked_in, only_from=[S.booked])
    assert appointment.status is S.checked_in


# --- the verbs the queue calls ---------------------------------------------------------------


async def test_check_in_moves_a_booked_appointment_once(visits: Visits) -> None:
    appointment_id = await visits.booked()
    view = await visits.do(scheduling.check_in_appointment, appointment_id)
    assert view.status is S.checked_in
    assert await visits.status(appointment_id) is S.checked_in
    with pytest.raises(AppError) as error:
        await visits.do(scheduling.check_in_appointment, appointment_id)
    assert refused(error)


async def test_begin_calls_in_a_checked_in_patient_and_again_changes_nothing(
    visits: Visits,
) -> None:
    appointment_id = await visits.booked()
    with pytest.raises(AppError) as error:
        await visits.do(scheduling.begin_appointment_visit, appointment_id)
    assert refused(error)  # not arrived yet
    await visits.walk(appointment_id, "check in")
    assert (await visits.do(scheduling.begin_appointment_visit, appointment_id)).status is (
        S.in_consultation
    )
    # Skipped during the visit, then called again: still in consultation.
    assert (await visits.do(scheduling.begin_appointment_visit, appointment_id)).status is (
        S.in_consultation
    )


async def test_complete_ends_a_visit_for_good(visits: Visits) -> None:
    appointment_id = await visits.booked()
    await visits.walk(appointment_id, "check in", "begin")
    assert (await visits.do(scheduling.complete_appointment, appointment_id)).status is (
        S.completed
    )
    for verb, _to in VERBS.values():
        with pytest.raises(AppError) as error:
            await visits.do(verb, appointment_id)
        assert refused(error)
    assert await visits.status(appointment_id) is S.completed


async def test_a_patient_is_missed_while_waiting_or_during_the_visit(visits: Visits) -> None:
    waiting, called = await visits.booked(), await visits.booked()
    await visits.walk(waiting, "check in")
    await visits.walk(called, "check in", "begin")
    for appointment_id in (waiting, called):
        view = await visits.do(scheduling.mark_appointment_missed, appointment_id)
        assert view.status is S.no_show
    with pytest.raises(AppError) as error:
        await visits.do(scheduling.complete_appointment, called)
    assert refused(error)


async def test_readmit_checks_a_missed_patient_in_again_and_counts_it(visits: Visits) -> None:
    appointment_id = await visits.booked()
    with pytest.raises(AppError) as error:
        await visits.do(scheduling.readmit_appointment, appointment_id)
    assert refused(error)
    await visits.walk(appointment_id, "check in", "missed")
    view = await visits.do(scheduling.readmit_appointment, appointment_id)
    assert (view.status, view.late_arrivals) == (S.checked_in, 1)
    await visits.walk(appointment_id, "missed", "readmit")
    assert (await visits.view(appointment_id)).late_arrivals == 2


async def test_a_missed_patient_may_be_recalled_straight_in(visits: Visits) -> None:
    appointment_id = await visits.booked()
    await visits.walk(appointment_id, "check in", "missed", "begin", "complete")
    assert await visits.status(appointment_id) is S.completed


async def test_restore_takes_back_a_call_and_only_what_the_table_allows(visits: Visits) -> None:
    called, recalled = await visits.booked(), await visits.booked()
    await visits.walk(called, "check in", "begin")
    restored = await visits.do(scheduling.restore_appointment_status, called, status=S.checked_in)
    assert restored.status is S.checked_in
    await visits.walk(recalled, "check in", "missed", "begin")
    restored = await visits.do(scheduling.restore_appointment_status, recalled, status=S.no_show)
    assert restored.status is S.no_show
    # A call that had changed nothing is taken back by changing nothing.
    await visits.walk(recalled, "begin")
    same = await visits.do(
        scheduling.restore_appointment_status, recalled, status=S.in_consultation
    )
    assert same.status is S.in_consultation
    with pytest.raises(AppError) as error:
        await visits.do(scheduling.restore_appointment_status, called, status=S.booked)
    assert refused(error)
    assert await visits.status(called) is S.checked_in


async def test_the_verbs_answer_not_found_for_an_unknown_appointment(visits: Visits) -> None:
    for verb, _to in VERBS.values():
        with pytest.raises(AppError) as error:
            await visits.do(verb, uuid.uuid4())
        assert error.value.code is ErrorCode.not_found


async def test_cancelling_goes_through_the_table(visits: Visits) -> None:
    waiting, called = await visits.booked(), await visits.booked()
    await visits.walk(waiting, "check in")
    assert await visits.cancel(waiting) is S.cancelled
    await visits.walk(called, "check in", "begin")
    with pytest.raises(AppError) as error:
        await visits.cancel(called)
    assert refused(error)
    with pytest.raises(AppError) as error:
        await visits.do(scheduling.check_in_appointment, waiting)
    assert refused(error)


MOVES = [*VERBS, "cancel", *(f"restore {status.value}" for status in S)]
# Where a verb's move may start, when it is one particular way into its status.
STARTS = {"check in": {S.booked}, "readmit": {S.no_show}, "restore": {S.in_consultation}}


@examples(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(moves=st.lists(st.sampled_from(MOVES), max_size=8))
async def test_any_sequence_of_moves_follows_the_table(visits: Visits, moves: list[str]) -> None:
    """Whatever the queue (and the desk) ask, in any order, a move succeeds exactly when the
    table lists it from where the appointment is (and the verb may start there); otherwise
    it is refused with 409 and changes nothing. Asking for the status the appointment
    already has (a repeated call, the undo of a call that changed nothing) changes nothing."""
    appointment_id = await visits.booked()
    late = 0
    for move in moves:
        before = await visits.status(appointment_id)
        ask: Callable[[], Awaitable[object]]
        if move.startswith("restore "):
            name, to = "restore", S(move.removeprefix("restore "))
            ask = partial(
                visits.do, scheduling.restore_appointment_status, appointment_id, status=to
            )
            stays = to is before
        elif move == "cancel":
            name, to, stays = move, S.cancelled, False
            ask = partial(visits.cancel, appointment_id)
        else:
            verb, to = VERBS[move]
            name, stays = move, move == "begin" and before is S.in_consultation
            ask = partial(visits.do, verb, appointment_id)
        allowed = to in TRANSITIONS[before] and before in STARTS.get(name, set(S))
        if allowed or stays:
            await ask()
            assert await visits.status(appointment_id) is to, (before, move)
            late += move == "readmit"
        else:
            with pytest.raises(AppError) as error:
                await ask()
            assert refused(error), (before, move)
            assert await visits.status(appointment_id) is before
    assert (await visits.view(appointment_id)).late_arrivals == late


async def test_unless_moved_on_leaves_a_cancelled_or_finished_appointment_as_it_is(
    visits: Visits,
) -> None:
    """What the queue asks along with its own moves: an appointment cancelled while its
    patient waited, or finished under a newer token, keeps its status, and nothing is
    counted."""
    cancelled, completed = await visits.booked(), await visits.booked()
    await visits.walk(cancelled, "check in")
    await visits.cancel(cancelled)
    await visits.walk(completed, "check in", "begin", "complete")
    for appointment_id, status in ((cancelled, S.cancelled), (completed, S.completed)):
        for verb, _to in VERBS.values():
            if verb is scheduling.check_in_appointment:
                continue
            view = await visits.do(verb, appointment_id, unless_moved_on=True)
            assert view.status is status
        view = await visits.do(
            scheduling.restore_appointment_status,
            appointment_id,
            status=S.checked_in,
            unless_moved_on=True,
        )
        assert (view.status, view.late_arrivals) == (status, 0)


async def test_unless_moved_on_leaves_a_move_already_made_and_refuses_the_rest(
    visits: Visits,
) -> None:
    missed = await visits.booked()
    await visits.walk(missed, "check in", "missed")
    view = await visits.do(scheduling.mark_appointment_missed, missed, unless_moved_on=True)
    assert view.status is S.no_show
    await visits.walk(missed, "readmit")
    view = await visits.do(scheduling.readmit_appointment, missed, unless_moved_on=True)
    assert (view.status, view.late_arrivals) == (S.checked_in, 1)
    # Not moved on, only somewhere the move cannot start: still refused.
    with pytest.raises(AppError) as error:
        await visits.do(scheduling.complete_appointment, missed, unless_moved_on=True)
    assert refused(error)
    booked = await visits.booked()
    with pytest.raises(AppError) as error:
        await visits.do(scheduling.begin_appointment_visit, booked, unless_moved_on=True)
    assert refused(error)
    assert await visits.status(booked) is S.booked


# --- what other domains read ------------------------------------------------------------------


async def test_find_appointment_answers_a_frozen_view(visits: Visits) -> None:
    appointment_id = await visits.booked(mode=Mode.online)
    view = await visits.view(appointment_id)
    assert (view.id, view.doctor_id, view.mode, view.reason, view.status) == (
        appointment_id,
        visits.doctor.id,
        Mode.online,
        "Cough",
        S.booked,
    )
    assert view.starts_at == TUESDAY_9
    assert view.ends_at == TUESDAY_9 + timedelta(minutes=15)
    with pytest.raises(ValidationError):
        view.status = S.completed  # type: ignore[misc]
    async with visits.runtime.transaction(write=False) as session:
        assert (
            await scheduling.find_appointment(session=session, appointment_id=uuid.uuid4()) is None
        )


async def test_appointments_near_a_time_leave_out_cancelled_and_far_ones(
    visits: Visits, accounts: Accounts
) -> None:
    patient = await accounts.make(Role.patient)
    first = await visits.booked(patient)
    second = await visits.booked(patient)
    other = await visits.booked()
    await visits.cancel(second)

    async def near(session: AsyncSession, within: timedelta, **only: uuid.UUID) -> list[uuid.UUID]:
        found = await scheduling.appointments_near(
            session=session, around=TUESDAY_9, within=within, **only
        )
        return [view.id for view in found]

    async with visits.runtime.transaction(write=False) as session:
        assert await near(session, timedelta(days=1)) == [first, other]
        assert await near(session, timedelta(days=1), patient_id=patient.id) == [first]
        assert (
            await near(session, timedelta(days=1), patient_id=patient.id, doctor_id=uuid.uuid4())
            == []
        )
        assert await near(session, timedelta(minutes=15)) == [first]


async def test_weekly_availability_is_the_saved_week_or_none(
    visits: Visits, accounts: Accounts
) -> None:
    newcomer = await accounts.make(Role.doctor)
    async with visits.runtime.transaction(write=False) as session:
        week = await scheduling.weekly_availability(session=session, doctor_id=visits.doctor.id)
        assert await scheduling.weekly_availability(session=session, doctor_id=newcomer.id) is None
    assert week is not None
    assert (week.timezone, week.slot_minutes) == ("Africa/Nairobi", 15)
    assert week.weekly["tue"] == [("08:00", "18:00")]


async def test_a_patients_appointments_as_views_newest_first(
    visits: Visits, accounts: Accounts
) -> None:
    patient = await accounts.make(Role.patient)
    older, newer = await visits.booked(patient), await visits.booked(patient)
    async with visits.runtime.transaction(write=False) as session:
        views = await scheduling.appointments_of_patient(session=session, patient_id=patient.id)
    assert [view.id for view in views] == [newer, older]
    assert all(isinstance(view, AppointmentView) for view in views)
