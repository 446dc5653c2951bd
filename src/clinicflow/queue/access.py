"""Who may see and change which queue and entry: decided here and nowhere else."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity.access import FRONT_DESK
from clinicflow.identity.schemas import Role
from clinicflow.queue.models import QueueEntry


def is_front_desk(actor: Actor) -> bool:
    return actor.role in FRONT_DESK


def sees_whole_queue(actor: Actor, doctor_id: uuid.UUID) -> bool:
    """The front desk and the queue's own doctor see names; patients see only numbers."""
    return is_front_desk(actor) or (actor.role is Role.doctor and actor.id == doctor_id)


def require_front_desk(actor: Actor) -> None:
    if not is_front_desk(actor):
        raise AppError(ErrorCode.forbidden, _("Only the front desk can do this."))


def require_role(actor: Actor, role: Role) -> None:
    """A page made for one role: the waiting room is a patient's, the doctor's queue a
    doctor's."""
    if actor.role is not role:
        raise AppError(ErrorCode.forbidden, _("This page is not for your account."))


def require_queue_doctor(actor: Actor, doctor_id: uuid.UUID) -> None:
    """Calling, finishing and skipping patients are the doctor's own decisions."""
    if not (actor.role is Role.doctor and actor.id == doctor_id):
        raise AppError(ErrorCode.forbidden, _("Only the doctor of this queue can do this."))


def require_queue_staff(actor: Actor, doctor_id: uuid.UUID) -> None:
    """Moving a patient by hand: the front desk or the queue's doctor."""
    if not sees_whole_queue(actor, doctor_id):
        raise AppError(ErrorCode.forbidden, _("Only staff of this queue can do this."))


def require_meet_link_editor(actor: Actor, doctor_id: uuid.UUID) -> None:
    if not (actor.role is Role.admin or (actor.role is Role.doctor and actor.id == doctor_id)):
        raise AppError(
            ErrorCode.forbidden, _("Only the doctor or an administrator can change this link.")
        )


def can_see_entry(actor: Actor, entry: QueueEntry) -> bool:
    return actor.id == entry.patient_id or sees_whole_queue(actor, entry.doctor_id)


async def get_entry_for(
    session: AsyncSession, actor: Actor, entry_id: uuid.UUID, *, for_update: bool = False
) -> QueueEntry:
    """The entry if the actor may see it; the same not-found whether missing or not theirs."""
    entry = await session.get(QueueEntry, entry_id, with_for_update=for_update or None)
    if entry is None or not can_see_entry(actor, entry):
        raise not_found()
    return entry
