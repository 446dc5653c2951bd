"""Who may see and change which queue and entry: decided here and nowhere else, with the role
groups of `identity.roles`."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity import roles
from clinicflow.identity.schemas import Role
from clinicflow.queue.models import QueueEntry
from clinicflow.scheduling.schemas import AppointmentView


def is_front_desk(actor: Actor) -> bool:
    """Receptionists and admins run the front desk: every queue, and anyone's check-in."""
    return actor.role in roles.FRONT_DESK


def is_queue_doctor(actor: Actor, doctor_id: uuid.UUID) -> bool:
    """The queue's own doctor: the one who calls its patients, and whose presence counts."""
    return actor.role is Role.doctor and actor.id == doctor_id


def sees_whole_queue(actor: Actor, doctor_id: uuid.UUID) -> bool:
    """The front desk and the queue's own doctor see names; patients see only numbers."""
    return is_front_desk(actor) or is_queue_doctor(actor, doctor_id)


def require_front_desk(actor: Actor) -> None:
    """Registering walk-ins and the desk's page are the front desk's job."""
    if not is_front_desk(actor):
        raise AppError(ErrorCode.forbidden, _("Only the front desk can do this."))


def has_waiting_room(actor: Actor) -> bool:
    """A patient follows their places in the waiting room; staff follow the desk or their
    own queue."""
    return actor.role is Role.patient


def require_waiting_room(actor: Actor) -> None:
    """The waiting room is a patient's page."""
    if not has_waiting_room(actor):
        raise AppError(ErrorCode.forbidden, _("This page is not for your account."))


def require_doctor_page(actor: Actor) -> None:
    """The doctor's queue page is a doctor's, showing their own queue."""
    if actor.role is not Role.doctor:
        raise AppError(ErrorCode.forbidden, _("This page is not for your account."))


def can_check_in(actor: Actor, appointment: AppointmentView) -> bool:
    """A patient checks in for their own appointment; the front desk for anyone's."""
    return is_front_desk(actor) or actor.id == appointment.patient_id


def require_check_in(actor: Actor, appointment: AppointmentView) -> None:
    """Checking in is the appointment's patient's, or the front desk's."""
    if not can_check_in(actor, appointment):
        raise AppError(ErrorCode.forbidden, _("Only the patient or the front desk can check in."))


def require_queue_doctor(actor: Actor, doctor_id: uuid.UUID) -> None:
    """Finishing and skipping patients, undoing, pausing: the doctor's own decisions."""
    if not is_queue_doctor(actor, doctor_id):
        raise AppError(ErrorCode.forbidden, _("Only the doctor of this queue can do this."))


def require_caller(actor: Actor, doctor_id: uuid.UUID) -> None:
    """Calling the next patient, or calling one again, is the queue's doctor's, and the
    front desk's on the doctor's behalf (from the desk's queue cards); the rest of the
    doctor's controls (finish, no-show, undo, pause) stay the doctor's own."""
    if not sees_whole_queue(actor, doctor_id):
        raise AppError(ErrorCode.forbidden, _("Only staff of this queue can do this."))


def require_queue_staff(actor: Actor, doctor_id: uuid.UUID) -> None:
    """Moving a patient by hand, or cancelling a token (the patient left): the front desk
    or the queue's doctor."""
    if not sees_whole_queue(actor, doctor_id):
        raise AppError(ErrorCode.forbidden, _("Only staff of this queue can do this."))


def require_meet_link_editor(actor: Actor, doctor_id: uuid.UUID) -> None:
    """A doctor changes their own meeting link; an administrator anyone's."""
    if not (actor.role is Role.admin or is_queue_doctor(actor, doctor_id)):
        raise AppError(
            ErrorCode.forbidden, _("Only the doctor or an administrator can change this link.")
        )


def require_rules_reader(actor: Actor) -> None:
    """The clinic's queue rules are read by an administrator, who changes them."""
    if actor.role is not Role.admin:
        raise AppError(ErrorCode.forbidden, _("Only an administrator can see queue rules."))


def require_rules_editor(actor: Actor) -> None:
    """Only an administrator changes the clinic's queue rules."""
    if actor.role is not Role.admin:
        raise AppError(ErrorCode.forbidden, _("Only an administrator can change queue rules."))


def can_see_entry(actor: Actor, entry: QueueEntry) -> bool:
    """A place is seen by its patient, the front desk and the queue's doctor."""
    return actor.id == entry.patient_id or sees_whole_queue(actor, entry.doctor_id)


def require_entry_patient(actor: Actor, entry: QueueEntry) -> None:
    """Only the place's patient says they are ready."""
    if actor.id != entry.patient_id:
        raise AppError(ErrorCode.forbidden, _("Only the patient can say they are ready."))


def require_new_token_asker(actor: Actor, entry: QueueEntry) -> None:
    """A new token after a missed turn is asked for by the patient or by the front desk."""
    if not (actor.id == entry.patient_id or is_front_desk(actor)):
        raise AppError(ErrorCode.forbidden, _("Only the patient or the front desk can do this."))


async def get_entry_for(
    session: AsyncSession, actor: Actor, entry_id: uuid.UUID, *, for_update: bool = False
) -> QueueEntry:
    """The entry if the actor may see it; the same not-found whether missing or not theirs."""
    entry = await session.get(QueueEntry, entry_id, with_for_update=for_update or None)
    if entry is None or not can_see_entry(actor, entry):
        raise not_found()
    return entry


async def can_follow(session: AsyncSession, actor: Actor, doctor_id: uuid.UUID, day: date) -> bool:
    """A queue's topic is followed by its staff, and by a patient who holds (or held) a
    place in it."""
    if sees_whole_queue(actor, doctor_id):
        return True
    held = await session.scalar(
        select(QueueEntry.id)
        .where(
            QueueEntry.doctor_id == doctor_id,
            QueueEntry.day == day,
            QueueEntry.patient_id == actor.id,
        )
        .limit(1)
    )
    return held is not None
