"""What other domains read of scheduling's tables: the queue, consultations, the medical
record and the reminders.

No access check here: the asking domain has decided who may see what before it asks. The
answers are frozen views (`schemas.AppointmentView`, `schemas.AvailabilityView`), never
the rows, so that only scheduling's verbs change an appointment. `booked_starting_between`
still answers rows, for the reminders until they read views.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.scheduling.models import Appointment, Availability
from clinicflow.scheduling.schemas import AppointmentStatus, AppointmentView, AvailabilityView
from clinicflow.scheduling.service.lifecycle import NOT_CANCELLED

# --- for the queue and consultations ----------------------------------------------------------


async def find_appointment(
    *, session: AsyncSession, appointment_id: uuid.UUID
) -> AppointmentView | None:
    """The appointment with its mode, reason, times and status, or None if there is none."""
    row = await session.get(Appointment, appointment_id)
    return AppointmentView.model_validate(row) if row is not None else None


async def appointments_near(
    *,
    session: AsyncSession,
    around: datetime,
    within: timedelta,
    patient_id: uuid.UUID | None = None,
    doctor_id: uuid.UUID | None = None,
) -> list[AppointmentView]:
    """Appointments that are not cancelled and start within `within` of `around` (both ends
    included), earliest first: what a check-in code or a patient arriving may refer to."""
    query = select(Appointment).where(
        Appointment.starts_at >= around - within,
        Appointment.starts_at <= around + within,
        NOT_CANCELLED,
    )
    if patient_id is not None:
        query = query.where(Appointment.patient_id == patient_id)
    if doctor_id is not None:
        query = query.where(Appointment.doctor_id == doctor_id)
    rows = await session.scalars(query.order_by(Appointment.starts_at, Appointment.id))
    return [AppointmentView.model_validate(row) for row in rows]


async def weekly_availability(
    *, session: AsyncSession, doctor_id: uuid.UUID
) -> AvailabilityView | None:
    """The week the doctor saved, or None if they never saved one (whoever asks then falls
    back to the zone of the doctor's profile)."""
    row = await session.get(Availability, doctor_id)
    return AvailabilityView.model_validate(row) if row is not None else None


# --- for the medical record (records domain) -------------------------------------------------


# An appointment the patient came to: it counts towards the care relation once kept.
KEPT = (
    AppointmentStatus.checked_in,
    AppointmentStatus.in_consultation,
    AppointmentStatus.completed,
)


async def has_kept_or_upcoming_appointment(
    session: AsyncSession, *, doctor_id: uuid.UUID, patient_id: uuid.UUID
) -> bool:
    """Whether the patient kept an appointment with the doctor (checked in, in consultation,
    completed) or has one booked that is not over yet: the appointments that count towards
    the care relation (records' `has_care_relation`). A cancelled one never counts, whoever
    cancelled it, nor a missed one, nor one booked that has passed without the patient."""
    found = await session.scalar(
        select(Appointment.id)
        .where(
            Appointment.doctor_id == doctor_id,
            Appointment.patient_id == patient_id,
            or_(
                Appointment.status.in_(KEPT),
                (Appointment.status == AppointmentStatus.booked)
                & (Appointment.ends_at > clock.now()),
            ),
        )
        .limit(1)
    )
    return found is not None


async def _patient_appointment_rows(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    before: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 100,
) -> list[Appointment]:
    """A patient's appointments, newest first by (starts_at, id), within [start, end) and
    before a cursor position. No access check: the records domain decides who may read a
    record before it asks."""
    query = select(Appointment).where(Appointment.patient_id == patient_id)
    if doctor_id is not None:
        query = query.where(Appointment.doctor_id == doctor_id)
    if start is not None:
        query = query.where(Appointment.starts_at >= start)
    if end is not None:
        query = query.where(Appointment.starts_at < end)
    if before is not None:
        query = query.where(tuple_(Appointment.starts_at, Appointment.id) < before)
    ordered = query.order_by(Appointment.starts_at.desc(), Appointment.id.desc())
    return list(await session.scalars(ordered.limit(limit)))


async def appointments_of_patient(
    *,
    session: AsyncSession,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    before: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 100,
) -> list[AppointmentView]:
    """A patient's appointments as views, newest first: what the medical record lists."""
    rows = await _patient_appointment_rows(
        session,
        patient_id=patient_id,
        doctor_id=doctor_id,
        start=start,
        end=end,
        before=before,
        limit=limit,
    )
    return [AppointmentView.model_validate(row) for row in rows]


# --- for the reminders (notifications domain) ------------------------------------------------


async def booked_starting_between(
    *, session: AsyncSession, start: datetime, end: datetime
) -> list[Appointment]:
    """Booked appointments starting in (start, end]: what a reminder scheduler looks at."""
    rows = await session.scalars(
        select(Appointment)
        .where(
            Appointment.status == AppointmentStatus.booked,
            Appointment.starts_at > start,
            Appointment.starts_at <= end,
        )
        .order_by(Appointment.starts_at)
    )
    return list(rows)
