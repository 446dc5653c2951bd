"""Who may call, answer and read calls: decided here and nowhere else.

| who | start, answer, signal | read the history |
| --- | --- | --- |
| the consultation's patient and doctor | while it is active and audio or video | always |
| an admin | never (the same not-found as a missing call) | yes, like the consultation |
| anyone else | no (not-found) | no (not-found) |

ICE servers (and minted TURN credentials) go to patients and doctors only.

Each public decision's docstring opens with its rule in one line: `scripts/access_matrix.py`
quotes it into docs/access.md.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.calls.schemas import CallKind
from clinicflow.consultations import access as consultations_access
from clinicflow.consultations.schemas import ConsultationStatus, ConsultationType
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import Role

CALLABLE_TYPES = {ConsultationType.audio: CallKind.audio, ConsultationType.video: CallKind.video}


class Encounter(Protocol):
    """What the rules read of a consultation."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def patient_id(self) -> uuid.UUID: ...
    @property
    def doctor_id(self) -> uuid.UUID: ...
    @property
    def status(self) -> ConsultationStatus: ...
    @property
    def type(self) -> ConsultationType: ...


async def get_call_history_for(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> Encounter:
    """Whoever reads the consultation reads its calls: its two participants and admins."""
    consultation: Encounter = await consultations_access.get_consultation_for(
        session, actor, consultation_id
    )
    return consultation


async def get_hangable_for(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> Encounter:
    """Its patient and its doctor may always hang up a call, even once the consultation has
    ended under it (its record must get its end)."""
    consultation: Encounter = await consultations_access.get_consultation_for(
        session, actor, consultation_id, for_update=True
    )
    if not consultations_access.is_participant(actor, consultation):
        raise not_found()
    return consultation


async def get_callable_for(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, *, lock: bool = False
) -> Encounter:
    """Only its patient and its doctor call, in an active audio or video consultation.

    Anyone else gets the not-found of a missing consultation (an admin who reads it may not
    join its calls); a participant of an ended, pending or chat-only one is told why (409).
    """
    consultation: Encounter = await consultations_access.get_consultation_for(
        session, actor, consultation_id, for_update=lock
    )
    if not consultations_access.is_participant(actor, consultation):
        raise not_found()
    if consultation.type not in CALLABLE_TYPES:
        raise AppError(
            ErrorCode.consultation_not_open,
            _("This consultation is by chat only: it has no calls."),
            {"status": consultation.status.value, "type": consultation.type.value},
        )
    if consultation.status is not ConsultationStatus.active:
        raise consultations_access.not_open(consultation)
    return consultation


def kinds_allowed(consultation: Encounter) -> frozenset[CallKind]:
    """A video consultation may call with or without video; an audio one by voice only."""
    if consultation.type is ConsultationType.video:
        return frozenset(CallKind)
    return frozenset({CallKind.audio})


def require_caller_role(actor: Actor) -> None:
    """Patients and doctors make calls, so only they are handed ICE servers (TURN relays
    cost bandwidth; other roles have no call to relay)."""
    if actor.role not in (Role.patient, Role.doctor):
        raise AppError(ErrorCode.forbidden, _("Only patients and doctors make calls."))
