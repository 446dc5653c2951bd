"""Who may see and change which schedule and appointment: decided here and nowhere else."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import Role
from clinicflow.scheduling.models import Appointment, SlotHold, WaitlistEntry

STAFF = frozenset({Role.doctor, Role.receptionist, Role.admin})


def is_staff(actor: Actor) -> bool:
    return actor.role in STAFF


def require_schedule_editor(actor: Actor, doctor_id: uuid.UUID) -> None:
    """A doctor edits their own week; an admin edits anyone's."""
    if actor.role is Role.admin or (actor.role is Role.doctor and actor.id == doctor_id):
        return
    raise AppError(
        ErrorCode.forbidden, _("Only the doctor or an administrator can change this schedule.")
    )


def patient_for(actor: Actor, patient_id: uuid.UUID | None) -> uuid.UUID:
    """Whom a hold or booking is for: a patient acts for themself, staff name the patient."""
    if actor.role is Role.patient:
        if patient_id not in (None, actor.id):
            raise AppError(ErrorCode.forbidden, _("Patients book for themselves."))
        return actor.id
    if patient_id is None:
        raise AppError(
            ErrorCode.validation_error,
            _("Choose the patient this is for."),
            {"field": "patient_id"},
        )
    return patient_id


def can_see_appointment(actor: Actor, appointment: Appointment) -> bool:
    if actor.role in (Role.receptionist, Role.admin):
        return True
    return actor.id in (appointment.patient_id, appointment.doctor_id)


async def get_appointment_for(
    session: AsyncSession, actor: Actor, appointment_id: uuid.UUID
) -> Appointment:
    """The appointment if the actor may see it; the same not-found whether missing or not theirs."""
    appointment = await session.get(Appointment, appointment_id)
    if appointment is None or not can_see_appointment(actor, appointment):
        raise not_found()
    return appointment


def require_patient(actor: Actor) -> None:
    """A waitlist place is the patient's own request, so staff cannot join for them."""
    if actor.role is not Role.patient:
        raise AppError(ErrorCode.forbidden, _("Only patients can join a waitlist."))


async def get_waitlist_entry_for(
    session: AsyncSession, actor: Actor, entry_id: uuid.UUID
) -> WaitlistEntry:
    """The entry for its patient, receptionists and admins; the same not-found for others."""
    entry = await session.get(WaitlistEntry, entry_id)
    if entry is None or not (
        entry.patient_id == actor.id or actor.role in (Role.receptionist, Role.admin)
    ):
        raise not_found()
    return entry


async def get_hold_for(session: AsyncSession, actor: Actor, hold_id: uuid.UUID) -> SlotHold:
    """A hold that still keeps its slot, for its patient or staff; an ended one is not found."""
    hold = await session.get(SlotHold, hold_id)
    if (
        hold is None
        or hold.expires_at <= clock.now()
        or not (hold.patient_id == actor.id or is_staff(actor))
    ):
        raise not_found()
    return hold
