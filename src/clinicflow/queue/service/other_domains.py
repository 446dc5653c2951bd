"""Every read and write the queue makes of another domain's rows, in one place.

Scheduling owns appointments and doctors' weeks, consultations owns consultations, identity
owns accounts and their profiles. The queue still reads and changes some of those rows
itself; each touch is a small function here, named for what it does, so no other module of
the queue imports their tables, and handing the writes to their owners' verbs
(`scheduling.check_in_appointment`, `complete_appointment`, ...) changes this file alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import service as consultations
from clinicflow.consultations.models import Consultation
from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.identity.models import PatientType, User
from clinicflow.scheduling import access as scheduling_access
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.models import Appointment, AppointmentStatus, Availability, Mode


@dataclass(frozen=True)
class Booking:
    """What the queue reads of an appointment: a copy, so scheduling's rows stay here."""

    id: uuid.UUID
    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    starts_at: datetime
    mode: str
    online: bool
    status: str
    # Booked and nothing since: not checked in, seen, missed or cancelled.
    booked: bool


def _booking(appointment: Appointment) -> Booking:
    return Booking(
        id=appointment.id,
        patient_id=appointment.patient_id,
        doctor_id=appointment.doctor_id,
        starts_at=appointment.starts_at,
        mode=appointment.mode.value,
        online=appointment.mode is Mode.online,
        status=appointment.status.value,
        booked=appointment.status is AppointmentStatus.booked,
    )


# --- appointments (scheduling's) -------------------------------------------------------------


async def appointment_for(
    session: AsyncSession, actor: Actor, appointment_id: uuid.UUID
) -> Booking:
    """The appointment if the actor may see it; scheduling's not-found otherwise."""
    return _booking(await scheduling_access.get_appointment_for(session, actor, appointment_id))


async def booking(session: AsyncSession, appointment_id: uuid.UUID) -> Booking | None:
    appointment = await session.get(Appointment, appointment_id)
    return _booking(appointment) if appointment is not None else None


async def uncancelled_near(session: AsyncSession, now: datetime) -> list[Booking]:
    """Appointments not cancelled that start within a day of `now`, either side."""
    found = await session.scalars(
        select(Appointment).where(
            Appointment.starts_at >= now - timedelta(days=1),
            Appointment.starts_at <= now + timedelta(days=1),
            Appointment.status != AppointmentStatus.cancelled,
        )
    )
    return [_booking(appointment) for appointment in found]


async def booked_between(
    session: AsyncSession, actor: Actor, *, start: datetime, end: datetime, limit: int
) -> list[Booking]:
    """Booked appointments (not yet checked in) the actor may see, starting in [start, end]."""
    found, _cursor = await scheduling.list_appointments(
        session=session,
        actor=actor,
        status=AppointmentStatus.booked,
        start=start,
        end=end,
        limit=limit,
    )
    return [_booking(appointment) for appointment in found]


async def _set_status(
    session: AsyncSession, appointment_id: uuid.UUID, status: AppointmentStatus
) -> Appointment | None:
    appointment = await session.get(Appointment, appointment_id)
    if appointment is not None:
        appointment.status = status
    return appointment


async def mark_checked_in(session: AsyncSession, appointment_id: uuid.UUID) -> None:
    """The patient has a place in the queue."""
    await _set_status(session, appointment_id, AppointmentStatus.checked_in)


async def begin_visit(session: AsyncSession, appointment_id: uuid.UUID) -> None:
    """The doctor has called the patient."""
    await _set_status(session, appointment_id, AppointmentStatus.in_consultation)


async def mark_completed(session: AsyncSession, appointment_id: uuid.UUID) -> None:
    """The doctor has finished the visit."""
    await _set_status(session, appointment_id, AppointmentStatus.completed)


async def mark_missed(session: AsyncSession, appointment_id: uuid.UUID) -> None:
    """The patient did not come back within the grace period."""
    await _set_status(session, appointment_id, AppointmentStatus.no_show)


async def readmit(session: AsyncSession, appointment_id: uuid.UUID) -> None:
    """A patient who missed their turn has a new token: checked in again, once more late."""
    appointment = await _set_status(session, appointment_id, AppointmentStatus.checked_in)
    if appointment is not None:
        appointment.late_arrivals += 1


async def restore_status(session: AsyncSession, appointment_id: uuid.UUID, status: str) -> None:
    """Undo of the doctor's last call: the status the appointment had before it."""
    await _set_status(session, appointment_id, AppointmentStatus(status))


# --- consultations (the consultations domain's) ----------------------------------------------


async def open_consultation(
    session: AsyncSession, actor: Actor, appointment_id: uuid.UUID, meet_url: str
) -> uuid.UUID:
    """The online appointment's consultation, active with the doctor's link; answers its id."""
    appointment = await session.get_one(Appointment, appointment_id)
    consultation = await consultations.open_for_visit(
        session=session, actor=actor, appointment=appointment, meet_url=meet_url
    )
    return consultation.id


async def consultation_meet_url(session: AsyncSession, consultation_id: uuid.UUID) -> str | None:
    consultation = await session.get(Consultation, consultation_id)
    return consultation.meet_url if consultation else None


# --- doctors and patients (identity's accounts and profiles, scheduling's weeks) -------------


async def doctor_zone(session: AsyncSession, doctor: User) -> ZoneInfo:
    """The zone of the doctor's working week (where their days begin and end)."""
    week = await session.get(Availability, doctor.id)
    name = week.timezone if week else (doctor.doctor.timezone if doctor.doctor else "UTC")
    return ZoneInfo(name)


async def doctor_today(session: AsyncSession, doctor: User) -> date:
    return clock.now().astimezone(await doctor_zone(session, doctor)).date()


async def usual_visit_minutes(session: AsyncSession, doctor_id: uuid.UUID) -> float:
    """The length of a visit the doctor's profile gives, before any visit is finished."""
    doctor = await session.get(User, doctor_id)
    return float(doctor.doctor.consultation_minutes if doctor and doctor.doctor else 15)


def doctor_meet_url(doctor: User) -> str | None:
    return doctor.doctor.meet_url if doctor.doctor else None


def set_doctor_meet_url(doctor: User, meet_url: str | None) -> bool:
    """Store the doctor's meeting link; answers whether it changed."""
    assert doctor.doctor is not None
    if doctor.doctor.meet_url == meet_url:
        return False
    doctor.doctor.meet_url = meet_url
    return True


def usual_patient_type(patient: User) -> PatientType:
    return patient.patient.patient_type if patient.patient else PatientType.adult
