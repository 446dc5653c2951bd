"""Everything the queue asks of other domains, in one place, each a small function named for
what it asks.

The queue writes only its own rows. Scheduling owns appointments and doctors' weeks, and
answers frozen views (`AppointmentView`); consultations owns the visit itself (the online
one, and the in-person one the queue opens at the call and ends or cancels); identity
owns accounts and their profiles. An appointment follows its patient's place through
scheduling's visit verbs, and only while it can: one cancelled while its patient waited, or
already finished or missed under another token, keeps its status while the place goes on
(`unless_moved_on=True`, see `scheduling/service/visits.py`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import service as consultations
from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import PatientType
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import AppointmentStatus, AppointmentView

# --- appointments (scheduling's) -------------------------------------------------------------


async def appointment_for(
    session: AsyncSession, actor: Actor, appointment_id: uuid.UUID
) -> AppointmentView:
    """The appointment if the actor may see it; scheduling's not-found otherwise."""
    found = await scheduling.get_appointment(
        session=session, actor=actor, appointment_id=appointment_id
    )
    return AppointmentView.model_validate(found)


async def find_appointment(
    session: AsyncSession, appointment_id: uuid.UUID
) -> AppointmentView | None:
    return await scheduling.find_appointment(session=session, appointment_id=appointment_id)


async def uncancelled_near(session: AsyncSession, now: datetime) -> list[AppointmentView]:
    """Appointments not cancelled that start within a day of `now`, either side."""
    return await scheduling.appointments_near(session=session, around=now, within=timedelta(days=1))


async def booked_between(
    session: AsyncSession, actor: Actor, *, start: datetime, end: datetime, limit: int
) -> list[AppointmentView]:
    """Booked appointments (not yet checked in) the actor may see, starting in [start, end)."""
    found, _cursor = await scheduling.list_appointments(
        session=session,
        actor=actor,
        status=AppointmentStatus.booked,
        start=start,
        end=end,
        limit=limit,
    )
    return [AppointmentView.model_validate(appointment) for appointment in found]


async def mark_checked_in(session: AsyncSession, appointment_id: uuid.UUID) -> None:
    """The patient has a place in the queue (their booked appointment only: check-in asks)."""
    await scheduling.check_in_appointment(session=session, appointment_id=appointment_id)


async def begin_visit(session: AsyncSession, appointment_id: uuid.UUID) -> None:
    """The doctor has called the patient."""
    await scheduling.begin_appointment_visit(
        session=session, appointment_id=appointment_id, unless_moved_on=True
    )


async def mark_completed(session: AsyncSession, appointment_id: uuid.UUID) -> None:
    """The doctor has finished the visit."""
    await scheduling.complete_appointment(
        session=session, appointment_id=appointment_id, unless_moved_on=True
    )


async def mark_missed(session: AsyncSession, appointment_id: uuid.UUID) -> None:
    """The patient did not come back within the grace period."""
    await scheduling.mark_appointment_missed(
        session=session, appointment_id=appointment_id, unless_moved_on=True
    )


async def readmit(session: AsyncSession, appointment_id: uuid.UUID) -> None:
    """A patient who missed their turn has a new token: checked in again, once more late."""
    await scheduling.readmit_appointment(
        session=session, appointment_id=appointment_id, unless_moved_on=True
    )


async def restore_status(session: AsyncSession, appointment_id: uuid.UUID, status: str) -> None:
    """Undo of the doctor's last call: the status the appointment had before it."""
    await scheduling.restore_appointment_status(
        session=session,
        appointment_id=appointment_id,
        status=AppointmentStatus(status),
        unless_moved_on=True,
    )


# --- consultations (the consultations domain's) ----------------------------------------------


async def open_consultation(
    session: AsyncSession, actor: Actor, appointment: AppointmentView, meet_url: str
) -> uuid.UUID:
    """The online appointment's consultation, active with the doctor's link; answers its id."""
    consultation = await consultations.open_for_visit(
        session=session, actor=actor, appointment=appointment, meet_url=meet_url
    )
    return consultation.id


async def open_visit(
    session: AsyncSession,
    actor: Actor,
    doctor_id: uuid.UUID,
    patient_id: uuid.UUID,
    appointment: AppointmentView | None,
) -> uuid.UUID:
    """The in-person visit of a patient called to `doctor_id` (by the doctor, or by the
    front desk on the doctor's behalf), active; answers its id."""
    consultation = await consultations.open_in_person(
        session=session,
        actor=actor,
        doctor_id=doctor_id,
        patient_id=patient_id,
        appointment=appointment,
    )
    return consultation.id


async def cancel_visit(session: AsyncSession, actor: Actor, consultation_id: uuid.UUID) -> None:
    """The in-person visit did not take place (its patient skipped, its call undone)."""
    await consultations.cancel_visit(session=session, actor=actor, consultation_id=consultation_id)


async def consultation_meet_url(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> str | None:
    """The link of the patient's own consultation (copied from the doctor's at the call)."""
    consultation = await consultations.get_consultation(
        session=session, actor=actor, consultation_id=consultation_id
    )
    return consultation.meet_url


# --- doctors and patients (identity's accounts and profiles, scheduling's weeks) -------------


async def doctor_zone(session: AsyncSession, doctor_id: uuid.UUID) -> ZoneInfo:
    """The zone of the active doctor's working week (where their days begin and end): the
    saved week's, or their profile's before they saved one."""
    week = await scheduling.weekly_availability(session=session, doctor_id=doctor_id)
    if week is not None:
        return ZoneInfo(week.timezone)
    doctor = await identity.get_doctor(session, doctor_id)
    assert doctor.doctor is not None  # get_doctor guarantees the profile
    return ZoneInfo(doctor.doctor.timezone)


async def doctor_today(session: AsyncSession, doctor_id: uuid.UUID) -> date:
    return clock.now().astimezone(await doctor_zone(session, doctor_id)).date()


async def usual_visit_minutes(session: AsyncSession, doctor_id: uuid.UUID) -> float:
    """The length of a visit the doctor's profile gives, before any visit is finished (a
    doctor no longer active included: their queue of the day still runs)."""
    found = await identity.users(session, [doctor_id])
    doctor = found[0] if found else None
    return float(doctor.doctor.consultation_minutes if doctor and doctor.doctor else 15)


async def doctor_meet_url(session: AsyncSession, doctor_id: uuid.UUID) -> str | None:
    doctor = await identity.get_doctor(session, doctor_id)
    return doctor.doctor.meet_url if doctor.doctor else None


async def set_doctor_meet_url(
    session: AsyncSession, doctor_id: uuid.UUID, meet_url: str | None
) -> bool:
    """Store the doctor's meeting link; answers whether it changed."""
    return await identity.set_meet_url(session=session, doctor_id=doctor_id, meet_url=meet_url)


async def usual_patient_type(session: AsyncSession, patient_id: uuid.UUID) -> PatientType:
    """The type the patient's profile gives, for a place whose type nobody named."""
    patient = await identity.get_patient(session, patient_id)
    return patient.patient.patient_type if patient.patient else PatientType.adult
