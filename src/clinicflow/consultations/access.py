"""Who may see and do what with a consultation: decided here and nowhere else.

| who | reads (consultation, messages) | writes messages | notes | accept / decline / end |
| --- | --- | --- | --- | --- |
| its patient | every status | while active | never | never (403) |
| its doctor | every status | while pending or active | read always; write while pending or active | yes |
| an admin | every status, audited | never (403) | read, audited | never (403) |
| a receptionist | no (404); the desk list shows who is with whom, no content | no | no | no |
| other doctors and patients | no (404, the same as a missing consultation) | no | no | no |

Admins read for complaints and medico-legal review; every such read leaves an audit row,
as does every read of messages or notes by the doctor.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations.models import Consultation
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import Role

S = ConsultationStatus
AUDITED_READERS = frozenset({Role.doctor, Role.admin})
DESK = frozenset({Role.receptionist, Role.admin})
DOCTOR_WRITES = frozenset({S.pending, S.active})
PATIENT_WRITES = frozenset({S.active})


class Parties(Protocol):
    """What the rules look at: who the two sides are and where the consultation stands. A
    loaded `Consultation` is one; so is the few-column row that storing messages locks."""

    @property
    def patient_id(self) -> uuid.UUID: ...
    @property
    def doctor_id(self) -> uuid.UUID: ...
    @property
    def status(self) -> ConsultationStatus: ...


def can_read(actor: Actor, consultation: Parties) -> bool:
    if actor.role is Role.admin:
        return True
    return actor.id in (consultation.patient_id, consultation.doctor_id)


def reads_are_audited(actor: Actor) -> bool:
    """Staff reads of messages and notes leave an audit row; a patient reading their own
    conversation does not."""
    return actor.role in AUDITED_READERS


async def get_consultation_for(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, *, for_update: bool = False
) -> Consultation:
    """The consultation if the actor may read it; the same not-found whether it is missing
    or not theirs. `for_update` locks the row (PostgreSQL) so a status check and the change
    that follows cannot interleave with another transition."""
    query = select(Consultation).where(Consultation.id == consultation_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    consultation = await session.scalar(query)
    if consultation is None or not can_read(actor, consultation):
        raise not_found()
    return consultation


def not_open(consultation: Parties) -> AppError:
    return AppError(
        ErrorCode.consultation_not_open,
        _("This consultation is not open for that now."),
        {"status": consultation.status.value},
    )


def require_participant(actor: Actor, consultation: Parties) -> None:
    if actor.id not in (consultation.patient_id, consultation.doctor_id):
        raise AppError(ErrorCode.forbidden, _("Only the patient and the doctor write here."))


def writable_statuses(actor: Actor, consultation: Parties) -> frozenset[ConsultationStatus]:
    """The statuses in which the actor may add messages; the service applies them in the same
    statement that takes the message's `seq`, so an "ended" racing a send cannot let a
    message in after the end."""
    require_participant(actor, consultation)
    return DOCTOR_WRITES if actor.id == consultation.doctor_id else PATIENT_WRITES


def can_write(actor: Actor, consultation: Consultation) -> bool:
    """Whether a page should offer the message box right now."""
    if actor.id not in (consultation.patient_id, consultation.doctor_id):
        return False
    return consultation.status in writable_statuses(actor, consultation)


def require_writer(actor: Actor, consultation: Parties) -> frozenset[ConsultationStatus]:
    statuses = writable_statuses(actor, consultation)
    if consultation.status not in statuses:
        raise not_open(consultation)
    return statuses


def require_doctor(actor: Actor, consultation: Parties) -> None:
    """Accepting, declining, ending, notes and recordings are the consultation's doctor's."""
    if actor.id != consultation.doctor_id:
        raise AppError(ErrorCode.forbidden, _("Only the consultation's doctor can do that."))


def require_notes_reader(actor: Actor, consultation: Consultation) -> None:
    """The doctor's private notes are never shown to the patient."""
    if actor.id != consultation.doctor_id and actor.role is not Role.admin:
        raise AppError(ErrorCode.forbidden, _("Only the doctor sees these notes."))


def require_notes_writer(actor: Actor, consultation: Consultation) -> None:
    require_doctor(actor, consultation)
    if consultation.status not in DOCTOR_WRITES:
        raise not_open(consultation)


def require_recording_writer(actor: Actor, consultation: Consultation) -> None:
    """Recording details exist once the call has happened, so they are accepted while the
    consultation is active and after it has ended (unlike messages)."""
    require_doctor(actor, consultation)
    if consultation.status not in (S.active, S.ended):
        raise not_open(consultation)


def require_patient(actor: Actor) -> None:
    if actor.role is not Role.patient:
        raise AppError(ErrorCode.forbidden, _("Only patients start consultations."))


def require_desk(actor: Actor) -> None:
    """The front desk sees who is in consultation with whom, never what is said."""
    if actor.role not in DESK:
        raise AppError(ErrorCode.forbidden, _("Only the front desk sees this list."))


def sees_every_consultation(actor: Actor) -> bool:
    return actor.role is Role.admin


def require_lister(actor: Actor) -> None:
    """Receptionists see consultations only on the desk list, without their content."""
    if actor.role is Role.receptionist:
        raise AppError(ErrorCode.forbidden, _("Use the desk list of consultations."))
