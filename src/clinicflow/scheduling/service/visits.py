"""The appointment on its day, as the queue moves it: checked in, called in, finished,
missed, given a new token after arriving late, or a call taken back.

The queue owns tokens and turns; scheduling owns the appointment. So the queue asks here,
by id, and every verb moves the status through `lifecycle.transition` (409
`invalid_transition` for a move the table does not allow) and answers the appointment as it
now is. No access check and no audit row: the queue has checked who may act, and audits
its own action.

The queue's place goes on whatever became of the appointment meanwhile: it may have been
cancelled while its patient waited, or finished under a newer token. So the verbs the queue
calls along with its own moves take `unless_moved_on=True`: an appointment that has moved
on from where the move starts (finished or cancelled, which no move leaves, or already in
the status asked for) is left as it is and answered, instead of refused. Any other move the
table does not allow is still refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.errors import not_found
from clinicflow.scheduling.models import Appointment
from clinicflow.scheduling.schemas import AppointmentStatus, AppointmentView
from clinicflow.scheduling.service.lifecycle import TRANSITIONS, transition


async def _appointment(session: AsyncSession, appointment_id: uuid.UUID) -> Appointment:
    appointment = await session.get(Appointment, appointment_id)
    if appointment is None:
        raise not_found()
    return appointment


def _moved_on(appointment: Appointment, to: AppointmentStatus) -> bool:
    """Past a move to `to` already: finished or cancelled (nothing moves it again), or
    already in `to`."""
    return appointment.status is to or not TRANSITIONS[appointment.status]


async def _move(
    session: AsyncSession,
    appointment_id: uuid.UUID,
    to: AppointmentStatus,
    *,
    only_from: Collection[AppointmentStatus] | None = None,
    unless_moved_on: bool = False,
) -> AppointmentView:
    appointment = await _appointment(session, appointment_id)
    if not (unless_moved_on and _moved_on(appointment, to)):
        transition(appointment, to, only_from=only_from)
        await session.flush()
    return AppointmentView.model_validate(appointment)


async def check_in_appointment(
    *, session: AsyncSession, appointment_id: uuid.UUID
) -> AppointmentView:
    """The patient has arrived for a booked appointment and holds a token."""
    return await _move(
        session, appointment_id, AppointmentStatus.checked_in, only_from=[AppointmentStatus.booked]
    )


async def begin_appointment_visit(
    *, session: AsyncSession, appointment_id: uuid.UUID, unless_moved_on: bool = False
) -> AppointmentView:
    """The doctor calls the patient in (or recalls one who had missed their turn).

    A patient skipped during their visit who is called again is still in consultation:
    that call changes nothing here, as it changed nothing before the queue asked.
    """
    appointment = await _appointment(session, appointment_id)
    to = AppointmentStatus.in_consultation
    if not (appointment.status is to or (unless_moved_on and _moved_on(appointment, to))):
        transition(appointment, to)
        await session.flush()
    return AppointmentView.model_validate(appointment)


async def complete_appointment(
    *, session: AsyncSession, appointment_id: uuid.UUID, unless_moved_on: bool = False
) -> AppointmentView:
    """The doctor finished the visit."""
    return await _move(
        session, appointment_id, AppointmentStatus.completed, unless_moved_on=unless_moved_on
    )


async def mark_appointment_missed(
    *, session: AsyncSession, appointment_id: uuid.UUID, unless_moved_on: bool = False
) -> AppointmentView:
    """The patient was skipped and the grace period passed without them."""
    return await _move(
        session, appointment_id, AppointmentStatus.no_show, unless_moved_on=unless_moved_on
    )


async def readmit_appointment(
    *, session: AsyncSession, appointment_id: uuid.UUID, unless_moved_on: bool = False
) -> AppointmentView:
    """A patient who missed their turn arrived late and got a new token; the appointment
    counts how often that happened (not when it has moved on: it is not readmitted)."""
    appointment = await _appointment(session, appointment_id)
    to = AppointmentStatus.checked_in
    if not (unless_moved_on and _moved_on(appointment, to)):
        transition(appointment, to, only_from=[AppointmentStatus.no_show])
        appointment.late_arrivals += 1
        await session.flush()
    return AppointmentView.model_validate(appointment)


async def restore_appointment_status(
    *,
    session: AsyncSession,
    appointment_id: uuid.UUID,
    status: AppointmentStatus,
    unless_moved_on: bool = False,
) -> AppointmentView:
    """Take back a call (the queue's undo): the status the appointment had before it.

    Only a call is taken back, so the move starts in consultation, and the table decides
    where it may go: back to checked in, or to missed for a recalled no-show. A status the
    appointment already has is left as it is (a call that had changed nothing).
    """
    appointment = await _appointment(session, appointment_id)
    if not (appointment.status is status or (unless_moved_on and _moved_on(appointment, status))):
        transition(appointment, status, only_from=[AppointmentStatus.in_consultation])
        await session.flush()
    return AppointmentView.model_validate(appointment)
