"""Who may use the assistant and its memory: decided here and nowhere else.

| who | asks `@b` | memory (panel, `remember`) | answers draw on | drafts |
| --- | --- | --- | --- | --- |
| the consultation's doctor | yes | sees, adds, edits, deletes | memory and transcript | yes, shown to the doctor only |
| its patient | yes | never (403) | the transcript only | no |
| anyone else | 404, like the consultation | 404 | | 404 (the patient too) |

The chat page's panel (memory and drafts, drawn by `pages.py`) is the consultation's doctor's:
to its patient as to anyone else it is not there (404, like the consultation).

Patients get answers from the transcript only: memory is the doctor's working notes and
patients see none of it. The consultation itself is loaded through consultations' access, so
outsiders get the same not-found as for a missing one.

Each public decision's docstring opens with its rule in one line: `scripts/access_matrix.py`
quotes it into docs/access.md.
"""

from __future__ import annotations

import uuid

from clinicflow.assistant.requests import Command
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import Role

# What the consultation's doctor alone may ask for: memory and drafts are their working notes.
DOCTOR_ONLY = frozenset({Command.remember, Command.draft_prescription})
# The senders whose messages may be questions: the consultation's two people, never the
# assistant's own answers or the system's messages.
ASKERS = frozenset({"patient", "doctor"})


def is_doctor_of(actor: Actor, doctor_id: uuid.UUID) -> bool:
    """The consultation's doctor: the one whose memory panel and drafts these are."""
    return actor.id == doctor_id


def can_ask(sender_role: str) -> bool:
    """Only the patient's and the doctor's messages ask; the assistant's and system ones never."""
    return sender_role in ASKERS


def is_asker(actor: Actor, sender_id: uuid.UUID | None) -> bool:
    """A question is its sender's own: it is answered for them and only they may cancel it."""
    return sender_id == actor.id


def may_ask_for(actor: Actor, doctor_id: uuid.UUID, command: Command) -> bool:
    """`remember` and `draft prescription` are the consultation's doctor's; both sides ask the rest."""
    return command not in DOCTOR_ONLY or is_doctor_of(actor, doctor_id)


def uses_memory(actor: Actor, doctor_id: uuid.UUID) -> bool:
    """Whether an answer to this asker may draw on the memory."""
    return is_doctor_of(actor, doctor_id)


def require_memory_keeper(actor: Actor, doctor_id: uuid.UUID) -> None:
    """Only the consultation's doctor sees or changes its memory (403 for its patient)."""
    if not is_doctor_of(actor, doctor_id):
        raise AppError(ErrorCode.forbidden, _("Only the consultation's doctor uses its memory."))


def require_asker(actor: Actor, sender_id: uuid.UUID | None) -> None:
    """Only whoever asked may cancel the answer."""
    if not is_asker(actor, sender_id):
        raise AppError(ErrorCode.forbidden, _("Only whoever asked can cancel the answer."))


def require_panel_keeper(actor: Actor, doctor_id: uuid.UUID) -> None:
    """The chat page's memory panel and drafts box are the consultation's doctor's: to anyone
    else they do not exist, like a consultation they may not see."""
    if not is_doctor_of(actor, doctor_id):
        raise not_found()


def require_draft_owner(actor: Actor, doctor_id: uuid.UUID) -> None:
    """A draft prescription is the doctor's alone until they issue it: to the patient, an
    admin or another doctor it does not exist."""
    if not is_doctor_of(actor, doctor_id):
        raise not_found()


def require_booker(actor: Actor) -> None:
    """Only a patient books by conversation with the assistant, and only for themself."""
    if actor.role is not Role.patient:
        raise AppError(ErrorCode.forbidden, _("Only patients book with the assistant."))


def require_conversation_owner(actor: Actor, patient_id: uuid.UUID) -> None:
    """A booking conversation is its patient's: to anyone else it does not exist."""
    if actor.id != patient_id:
        raise not_found()
