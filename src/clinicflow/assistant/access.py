"""Who may use the assistant and its memory: decided here and nowhere else.

| who | asks `@b` | memory (panel, `remember`) | answers draw on | drafts |
| --- | --- | --- | --- | --- |
| the consultation's doctor | yes | sees, adds, edits, deletes | memory and transcript | yes, shown to the doctor only |
| its patient | yes | never (403) | the transcript only | no |
| anyone else | 404, like the consultation | 404 | | 404 (the patient too) |

Patients get answers from the transcript only: memory is the doctor's working notes and
patients see none of it. The consultation itself is loaded through consultations' access, so
outsiders get the same not-found as for a missing one.
"""

from __future__ import annotations

import uuid

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _


def is_doctor_of(actor: Actor, doctor_id: uuid.UUID) -> bool:
    return actor.id == doctor_id


def uses_memory(actor: Actor, doctor_id: uuid.UUID) -> bool:
    """Whether an answer to this asker may draw on the memory."""
    return is_doctor_of(actor, doctor_id)


def require_memory_keeper(actor: Actor, doctor_id: uuid.UUID) -> None:
    if not is_doctor_of(actor, doctor_id):
        raise AppError(ErrorCode.forbidden, _("Only the consultation's doctor uses its memory."))


def require_asker(actor: Actor, sender_id: uuid.UUID | None) -> None:
    """Only whoever asked may cancel the answer."""
    if sender_id != actor.id:
        raise AppError(ErrorCode.forbidden, _("Only whoever asked can cancel the answer."))


def require_draft_owner(actor: Actor, doctor_id: uuid.UUID) -> None:
    """A draft prescription is the doctor's alone until they issue it: to the patient, an
    admin or another doctor it does not exist."""
    if not is_doctor_of(actor, doctor_id):
        raise not_found()
