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

Each public decision's docstring opens with its rule in one line: `scripts/access_matrix.py`
quotes it into docs/access.md.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations.models import Consultation, Message
from clinicflow.consultations.schemas import (
    ASSISTANT_MENTION,
    ConsultationStatus,
    ConsultationType,
)
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity.roles import AUDITED_READERS, FRONT_DESK
from clinicflow.identity.schemas import Role

S = ConsultationStatus
DOCTOR_WRITES = frozenset({S.pending, S.active})
PATIENT_WRITES = frozenset({S.active})


class Sides(Protocol):
    """Who the two sides are: a consultation, or the appointment a patient links to one."""

    @property
    def patient_id(self) -> uuid.UUID: ...
    @property
    def doctor_id(self) -> uuid.UUID: ...


class Parties(Sides, Protocol):
    """What the rules look at: who the two sides are and where the consultation stands. A
    loaded `Consultation` is one; so is the few-column row that storing messages locks."""

    @property
    def status(self) -> ConsultationStatus: ...
    @property
    def type(self) -> ConsultationType: ...


def private_to(actor: Actor, consultation: Sides, body: str) -> uuid.UUID | None:
    """The doctor's `@b` questions are theirs alone: whom a new text message is private to."""
    if actor.id == consultation.doctor_id and ASSISTANT_MENTION.search(body):
        return actor.id
    return None


def visible_messages(actor: Actor) -> ColumnElement[bool]:
    """A message of the doctor's private assistant thread is read by that doctor only: the
    condition every read of messages adds (history, catch-up, the record, the assistant)."""
    return or_(Message.private_to_id.is_(None), Message.private_to_id == actor.id)


def is_patient_of(actor: Actor, consultation: Sides) -> bool:
    """The consultation's patient: the one who asked for it."""
    return actor.id == consultation.patient_id


def is_doctor_of(actor: Actor, consultation: Sides) -> bool:
    """The consultation's doctor: the one asked, who answers it."""
    return actor.id == consultation.doctor_id


def is_participant(actor: Actor, consultation: Sides) -> bool:
    """Its patient and its doctor, the only two who speak in a consultation."""
    return is_patient_of(actor, consultation) or is_doctor_of(actor, consultation)


def can_read(actor: Actor, consultation: Parties) -> bool:
    """Its patient and its doctor read it in every status; an admin reads any consultation."""
    if actor.role is Role.admin:
        return True
    return is_participant(actor, consultation)


def reads_are_audited(actor: Actor) -> bool:
    """Doctors' and admins' reads of messages, files and notes are audited; a patient's are not."""
    return actor.role in AUDITED_READERS


async def get_consultation_for(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, *, for_update: bool = False
) -> Consultation:
    """The consultation if the actor may read it; the same not-found if missing or not theirs.

    `for_update` locks the row (PostgreSQL) so a status check and the change that follows
    cannot interleave with another transition.
    """
    query = select(Consultation).where(Consultation.id == consultation_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    consultation = await session.scalar(query)
    if consultation is None or not can_read(actor, consultation):
        raise not_found()
    return consultation


def not_open(consultation: Parties) -> AppError:
    """The refusal (409) of the right person at the wrong time: the status does not allow it."""
    return AppError(
        ErrorCode.consultation_not_open,
        _("This consultation is not open for that now."),
        {"status": consultation.status.value},
    )


def require_participant(actor: Actor, consultation: Parties) -> None:
    """Only its patient and its doctor write in a consultation (403 for an admin reading it)."""
    if not is_participant(actor, consultation):
        raise AppError(ErrorCode.forbidden, _("Only the patient and the doctor write here."))


def writable_statuses(actor: Actor, consultation: Parties) -> frozenset[ConsultationStatus]:
    """The doctor writes while it is pending or active, the patient once it is active.

    An in-person visit has no chat: the two are in the same room, and its record is the
    visit note. The service applies these statuses in the same statement that takes the
    message's `seq`, so an "ended" racing a send cannot let a message in after the end.
    """
    require_participant(actor, consultation)
    if consultation.type is ConsultationType.in_person:
        return frozenset()
    return DOCTOR_WRITES if is_doctor_of(actor, consultation) else PATIENT_WRITES


def can_write(actor: Actor, consultation: Consultation) -> bool:
    """Whether a page offers the message box: a participant, in a status they may write in."""
    if not is_participant(actor, consultation):
        return False
    return consultation.status in writable_statuses(actor, consultation)


def require_writer(actor: Actor, consultation: Parties) -> frozenset[ConsultationStatus]:
    """A participant, in a status they may write in (409 `consultation_not_open` otherwise).

    An in-person visit takes no messages at all, and says so."""
    statuses = writable_statuses(actor, consultation)
    if consultation.type is ConsultationType.in_person:
        raise AppError(
            ErrorCode.consultation_not_open,
            _("An in-person visit has no chat: write the visit note instead."),
            {"status": consultation.status.value, "type": consultation.type.value},
        )
    if consultation.status not in statuses:
        raise not_open(consultation)
    return statuses


def require_doctor(actor: Actor, consultation: Sides) -> None:
    """Accepting, declining, ending, notes and recordings are the consultation's doctor's."""
    if not is_doctor_of(actor, consultation):
        raise AppError(ErrorCode.forbidden, _("Only the consultation's doctor can do that."))


def require_notes_reader(actor: Actor, consultation: Consultation) -> None:
    """The doctor's private notes are read by the doctor and admins, never by the patient."""
    if not is_doctor_of(actor, consultation) and actor.role is not Role.admin:
        raise AppError(ErrorCode.forbidden, _("Only the doctor sees these notes."))


def require_notes_writer(actor: Actor, consultation: Consultation) -> None:
    """Only its doctor writes the private notes, while the consultation is pending or active."""
    require_doctor(actor, consultation)
    if consultation.status not in DOCTOR_WRITES:
        raise not_open(consultation)


def require_recording_writer(actor: Actor, consultation: Consultation) -> None:
    """Only its doctor sets the recording details, while it is active or after it has ended.

    The details exist once the call has happened, so unlike messages they are still
    accepted after the end.
    """
    require_doctor(actor, consultation)
    if consultation.status not in (S.active, S.ended):
        raise not_open(consultation)


def can_start(actor: Actor) -> bool:
    """Only patients start consultations: the start form is theirs."""
    return actor.role is Role.patient


def require_patient(actor: Actor) -> None:
    """Only patients start consultations (403 for staff)."""
    if not can_start(actor):
        raise AppError(ErrorCode.forbidden, _("Only patients start consultations."))


def receives_requests(actor: Actor) -> bool:
    """Doctors receive consultation requests: their list shows new ones and names the patient."""
    return actor.role is Role.doctor


def require_desk(actor: Actor) -> None:
    """The front desk sees who is in consultation with whom, never what is said."""
    if actor.role not in FRONT_DESK:
        raise AppError(ErrorCode.forbidden, _("Only the front desk sees this list."))


def sees_every_consultation(actor: Actor) -> bool:
    """An admin's list holds every consultation; everyone else's only their own."""
    return actor.role is Role.admin


def sees_only_the_desk_list(actor: Actor) -> bool:
    """Receptionists see consultations only on the desk list, without their content."""
    return actor.role is Role.receptionist


def require_lister(actor: Actor) -> None:
    """Patients, doctors and admins list consultations; receptionists use the desk list."""
    if sees_only_the_desk_list(actor):
        raise AppError(ErrorCode.forbidden, _("Use the desk list of consultations."))
