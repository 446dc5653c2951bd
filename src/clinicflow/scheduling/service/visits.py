"""The appointment on its day, as the queue moves it: checked in, called in, finished,
missed, given a new token after arriving late, or a call taken back.

The queue owns tokens and turns; scheduling owns the appointment. So the queue asks here,
by id, and every verb moves the status through `lifecycle.transition` (409
`invalid_transition` for a move the table does not allow) and answers the appointment as it
now is. No access check and no audit row: the queue has checked who may act, and audits
its own action.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.errors import not_found
from clinicflow.scheduling.models import Appointment
from clinicflow.scheduling.schemas import AppointmentStatus, AppointmentView
from clinicflow.scheduling.service.lifecycle import transition


async def _appointment(session: AsyncSession, appointment_id: uuid.UUID) -> Appointment:
    appointment = await session.get(Appointment, appointment_id)
    if appointment is None:
        raise not_found()
    return appointment


async def _move(
    session: AsyncSession,
    appointment_id: uuid.UUID,
    to: AppointmentStatus,
    *,
    only_from: Collection[AppointmentStatus] | None = None,
) -> AppointmentView:
    appointment = await _appointment(session, appointment_id)
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
    *, session: AsyncSession, appointment_id: uuid.UUID
) -> AppointmentView:
    """The doctor calls the patient in (or recalls one who had missed their turn).

    A patient skipped during their visit who is called again is still in consultation:
    that call changes nothing here, as it changed nothing before the queue asked.
    """
    appointment = await _appointment(session, appointment_id)
    if appointment.status is not AppointmentStatus.in_consultation:
        transition(appointment, AppointmentStatus.in_consultation)
        await session.flush()
    return AppointmentView.model_validate(appointment)


async def complete_appointment(
    *, session: AsyncSession, appointment_id: uuid.UUID
) -> AppointmentView:
    """The doctor finished the visit."""
    return await _move(session, appointment_id, AppointmentStatus.completed)


async def mark_appointment_missed(
    *, session: AsyncSession, appointment_id: uuid.UUID
) -> AppointmentView:
    """The patient was skipped and the grace period passed without them."""
    return await _move(session, appointment_id, AppointmentStatus.no_show)


async def readmit_appointment(
    *, session: AsyncSession, appointment_id: uuid.UUID
) -> AppointmentView:
    """A patient who missed their turn arrived late and got a new token; the appointment
    counts how often that happened."""
    appointment = await _appointment(session, appointment_id)
    transition(appointment, AppointmentStatus.checked_in, only_from=[AppointmentStatus.no_show])
    appointment.late_arrivals += 1
    await session.flush()
    return AppointmentView.model_validate(appointment)


async def restore_appointment_status(
    *, session: AsyncSession, appointment_id: uuid.UUID, status: AppointmentStatus
) -> AppointmentView:
    """Take back a call (the queue's undo): the status the appointment had before it.

    Only a call is taken back, so the move starts in consultation, and the table decides
    where it may go: back to checked in, or to missed for a recalled no-show. A status the
    appointment already has is left as it is (a call that had changed nothing).
    """
    appointment = await _appointment(session, appointment_id)
    if appointment.status is not status:
        transition(appointment, status, only_from=[AppointmentStatus.in_consultation])
        await session.flush()
    return AppointmentView.model_validate(appointment)
