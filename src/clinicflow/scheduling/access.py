"""Who may see and change which schedule and appointment: decided here and nowhere else."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity import roles
from clinicflow.identity.schemas import Role
from clinicflow.scheduling.models import Appointment, SlotHold, WaitlistEntry

AppointmentList = Literal["patient", "doctor", "desk"]


def require_schedule_editor(actor: Actor, doctor_id: uuid.UUID) -> None:
    """A doctor edits their own week; an admin edits anyone's."""
    if actor.role is Role.admin or (actor.role is Role.doctor and actor.id == doctor_id):
        return
    raise AppError(
        ErrorCode.forbidden, _("Only the doctor or an administrator can change this schedule.")
    )


def books_for_others(actor: Actor) -> bool:
    """Staff hold and book a time for a patient they name; a patient only for themself."""
    return actor.role in roles.STAFF


def patient_for(actor: Actor, patient_id: uuid.UUID | None) -> uuid.UUID:
    """Whom a hold or booking is for: a patient acts for themself, staff name the patient."""
    if not books_for_others(actor):
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


def require_desk_booker(actor: Actor) -> None:
    """Booking for a patient at the desk is the front desk's job (and an admin's)."""
    if actor.role not in roles.FRONT_DESK:
        raise AppError(ErrorCode.forbidden, _("Only the front desk can book for patients."))


def may_change_late(actor: Actor) -> bool:
    """Staff may change an appointment any time; a patient only until the cancellation window."""
    return actor.role in roles.STAFF


def can_see_appointment(actor: Actor, appointment: Appointment) -> bool:
    """The front desk sees every appointment; a patient or a doctor only their own."""
    if actor.role in roles.FRONT_DESK:
        return True
    return actor.id in (appointment.patient_id, appointment.doctor_id)


def appointment_list(actor: Actor) -> AppointmentList:
    """Whose appointments a list shows: a patient's own, a doctor's own, or every doctor's."""
    if actor.role is Role.patient:
        return "patient"
    if actor.role is Role.doctor:
        return "doctor"
    return "desk"


def visible_appointments(actor: Actor, query: Select[Appointment]) -> Select[Appointment]:
    """Narrow a query to the appointments the actor's `appointment_list` shows them."""
    shown = appointment_list(actor)
    if shown == "patient":
        return query.where(Appointment.patient_id == actor.id)
    if shown == "doctor":
        return query.where(Appointment.doctor_id == actor.id)
    return query


async def get_appointment_for(
    session: AsyncSession, actor: Actor, appointment_id: uuid.UUID
) -> Appointment:
    """The appointment if the actor may see it; the same not-found whether missing or not theirs."""
    appointment = await session.get(Appointment, appointment_id)
    if appointment is None or not can_see_appointment(actor, appointment):
        raise not_found()
    return appointment


def can_join_waitlist(actor: Actor) -> bool:
    """A waitlist place is the patient's own request, so staff cannot join for them."""
    return actor.role is Role.patient


def require_waitlist_joiner(actor: Actor) -> None:
    """Only a patient joins a waitlist, and only for themself."""
    if not can_join_waitlist(actor):
        raise AppError(ErrorCode.forbidden, _("Only patients can join a waitlist."))


async def get_waitlist_entry_for(
    session: AsyncSession, actor: Actor, entry_id: uuid.UUID
) -> WaitlistEntry:
    """The entry for its patient, receptionists and admins; the same not-found for others."""
    entry = await session.get(WaitlistEntry, entry_id)
    if entry is None or not (entry.patient_id == actor.id or actor.role in roles.FRONT_DESK):
        raise not_found()
    return entry


def can_see_hold(actor: Actor, hold: SlotHold) -> bool:
    """A hold is seen and ended by the patient it keeps a time for, and by staff."""
    return hold.patient_id == actor.id or actor.role in roles.STAFF


async def get_hold_for(session: AsyncSession, actor: Actor, hold_id: uuid.UUID) -> SlotHold:
    """A hold that still keeps its slot, for its patient or staff; an ended one is not found."""
    hold = await session.get(SlotHold, hold_id)
    if hold is None or hold.expires_at <= clock.now() or not can_see_hold(actor, hold):
        raise not_found()
    return hold


def can_release_hold(actor: Actor, hold: SlotHold) -> bool:
    """A hold is ended early only by the patient it keeps a time for, or the front desk for them.

    Seeing a hold is not enough: any doctor could otherwise free (and take away) a time
    another patient is in the middle of booking.
    """
    return hold.patient_id == actor.id or actor.role in roles.FRONT_DESK


async def get_hold_to_release(session: AsyncSession, actor: Actor, hold_id: uuid.UUID) -> SlotHold:
    """A hold its patient or the front desk may end, even a lapsed one; not-found for others."""
    hold = await session.get(SlotHold, hold_id)
    if hold is None or not can_release_hold(actor, hold):
        raise not_found()
    return hold
