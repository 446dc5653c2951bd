"""Booking, cancelling, rescheduling and listing appointments.

Double booking is prevented by the database (a unique index over doctor and start for
live appointments, and one over doctor and start for holds); the checks here only give the
common refusals a clear answer before the index has to. Booking a slot that the waitlist
offered the patient fulfils their place; a cancelled or vacated slot is offered to the
next waiting patient in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic import service as clinic
from clinicflow.clinic.schemas import ClinicProfile
from clinicflow.config import Settings
from clinicflow.core import audit, clock, cursors
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.notifications import service as notifications
from clinicflow.notifications.service import Kind
from clinicflow.scheduling import access
from clinicflow.scheduling.models import Appointment
from clinicflow.scheduling.schemas import AppointmentStatus, Mode
from clinicflow.scheduling.service import free_time, holds, waitlist
from clinicflow.scheduling.service.announcements import announce
from clinicflow.scheduling.service.lifecycle import LIVE, transition, upcoming_count


async def book(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    doctor_id: uuid.UUID,
    starts_at: datetime,
    mode: Mode,
    reason: str = "",
    patient_id: uuid.UUID | None = None,
) -> Appointment:
    patient = await holds.chosen_patient(session, actor, patient_id)
    ends_at = await free_time.bookable_end(session, doctor_id, starts_at)
    if await upcoming_count(session, patient) >= settings.max_future_appointments:
        raise AppError(
            ErrorCode.appointment_limit,
            _("A patient may hold at most {count} upcoming appointments.").format(
                count=settings.max_future_appointments
            ),
        )
    if await free_time.is_booked(session, doctor_id, starts_at):
        raise free_time.slot_taken()
    await waitlist.take_offer(session, settings, doctor_id, starts_at, patient)
    await holds.claim_slot(session, doctor_id, starts_at, patient)
    appointment = Appointment(
        id=uuid.uuid4(),
        doctor_id=doctor_id,
        patient_id=patient,
        booked_by_id=actor.id,
        starts_at=starts_at,
        ends_at=ends_at,
        mode=mode,
        reason=reason,
        status=AppointmentStatus.booked,
    )
    await free_time.insert_or_taken(session, appointment)
    await audit.record(
        session,
        action="appointment.book",
        resource_type="appointment",
        resource_id=appointment.id,
        actor=actor,
        details={"doctor_id": str(doctor_id), "starts_at": starts_at.isoformat()},
    )
    announce(session, doctor_id, (starts_at, ends_at), free=False)
    await notifications.about_appointment(
        session, kind=Kind.booking_confirmed, appointment=appointment
    )
    return appointment


def _check_change_window(profile: ClinicProfile, actor: Actor, appointment: Appointment) -> None:
    """Patients may change an appointment until the window before its start; staff always."""
    if appointment.status not in LIVE:
        raise AppError(
            ErrorCode.invalid_transition,
            _("This appointment can no longer be changed."),
            {"status": appointment.status.value},
        )
    window = timedelta(minutes=profile.cancellation_window_minutes)
    if not access.may_change_late(actor) and appointment.starts_at - clock.now() < window:
        raise AppError(
            ErrorCode.too_late_to_change,
            _("Appointments can be changed until {minutes} minutes before they start.").format(
                minutes=profile.cancellation_window_minutes
            ),
        )


async def cancel(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    appointment_id: uuid.UUID,
) -> Appointment:
    appointment = await access.get_appointment_for(session, actor, appointment_id)
    _check_change_window(
        await clinic.current(session=session, defaults=settings), actor, appointment
    )
    transition(appointment, AppointmentStatus.cancelled)
    appointment.cancelled_at = clock.now()
    await session.flush()
    await audit.record(
        session,
        action="appointment.cancel",
        resource_type="appointment",
        resource_id=appointment.id,
        actor=actor,
    )
    await notifications.about_appointment(
        session, kind=Kind.booking_cancelled, appointment=appointment
    )
    announce(
        session, appointment.doctor_id, (appointment.starts_at, appointment.ends_at), free=True
    )
    await waitlist.offer_freed_slot(
        session=session,
        settings=settings,
        doctor_id=appointment.doctor_id,
        starts_at=appointment.starts_at,
    )
    return appointment


async def reschedule(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    appointment_id: uuid.UUID,
    starts_at: datetime,
) -> Appointment:
    appointment = await access.get_appointment_for(session, actor, appointment_id)
    _check_change_window(
        await clinic.current(session=session, defaults=settings), actor, appointment
    )
    ends_at = await free_time.bookable_end(session, appointment.doctor_id, starts_at)
    if await free_time.is_booked(session, appointment.doctor_id, starts_at):
        raise free_time.slot_taken()
    await waitlist.take_offer(
        session, settings, appointment.doctor_id, starts_at, appointment.patient_id
    )
    await holds.claim_slot(session, appointment.doctor_id, starts_at, appointment.patient_id)
    previous, previous_end = appointment.starts_at, appointment.ends_at
    try:
        async with session.begin_nested():
            appointment.starts_at, appointment.ends_at = starts_at, ends_at
            await session.flush()
    except IntegrityError as exc:
        raise free_time.slot_taken() from exc
    announce(session, appointment.doctor_id, (starts_at, ends_at), free=False)
    announce(session, appointment.doctor_id, (previous, previous_end), free=True)
    await audit.record(
        session,
        action="appointment.reschedule",
        resource_type="appointment",
        resource_id=appointment.id,
        actor=actor,
        details={"from": previous.isoformat(), "to": starts_at.isoformat()},
    )
    await notifications.about_appointment(session, kind=Kind.booking_moved, appointment=appointment)
    await waitlist.offer_freed_slot(
        session=session, settings=settings, doctor_id=appointment.doctor_id, starts_at=previous
    )
    return appointment


async def list_appointments(
    *,
    session: AsyncSession,
    actor: Actor,
    status: AppointmentStatus | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    doctor_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Appointment], str | None]:
    """Appointments the actor may see, by start time, a page at a time (keyset cursor)."""
    query = access.visible_appointments(actor, select(Appointment))
    if doctor_id is not None:
        query = query.where(Appointment.doctor_id == doctor_id)
    if status is not None:
        query = query.where(Appointment.status == status)
    if start is not None:
        query = query.where(Appointment.starts_at >= start)
    if end is not None:
        query = query.where(Appointment.starts_at < end)
    if cursor:
        after_start, after_id = cursors.decode(cursor)
        query = query.where(tuple_(Appointment.starts_at, Appointment.id) > (after_start, after_id))
    rows = list(
        await session.scalars(
            query.order_by(Appointment.starts_at, Appointment.id).limit(limit + 1)
        )
    )
    next_cursor = (
        cursors.encode(rows[limit - 1].starts_at, rows[limit - 1].id) if len(rows) > limit else None
    )
    return rows[:limit], next_cursor


async def get_appointment(
    *, session: AsyncSession, actor: Actor, appointment_id: uuid.UUID
) -> Appointment:
    return await access.get_appointment_for(session, actor, appointment_id)
