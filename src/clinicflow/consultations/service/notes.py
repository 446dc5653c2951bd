"""The doctor's private notes and the recording details of an audio or video call.

The notes never reach the patient (access decides who reads and writes them); every read
and change of them is audited, and so is every change of a recording.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import access, schemas
from clinicflow.consultations.models import Consultation
from clinicflow.consultations.schemas import ConsultationType
from clinicflow.consultations.service.checks import valid_text
from clinicflow.consultations.service.describing import publish_update
from clinicflow.core import audit
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _


async def read_notes(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
) -> str:
    consultation = await access.get_consultation_for(session, actor, consultation_id)
    access.require_notes_reader(actor, consultation)
    await audit.record(
        session,
        action="consultation.notes_read",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
    )
    return consultation.notes or ""


async def write_notes(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    notes: str,
) -> str:
    """Replace the doctor's private notes (empty clears them)."""
    consultation = await access.get_consultation_for(
        session, actor, consultation_id, for_update=True
    )
    access.require_notes_writer(actor, consultation)
    consultation.notes = valid_text(
        notes, field="notes", max_length=schemas.MAX_NOTES, required=False
    )
    await session.flush()
    await audit.record(
        session,
        action="consultation.notes_update",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
        details={"length": len(notes)},
    )
    return notes


async def set_recording(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    url: str,
    duration_seconds: int,
    size_bytes: int,
) -> Consultation:
    consultation = await access.get_consultation_for(
        session, actor, consultation_id, for_update=True
    )
    access.require_recording_writer(actor, consultation)
    if consultation.type is ConsultationType.chat:
        raise AppError(
            ErrorCode.recording_not_allowed,
            _("Only audio and video consultations have recordings."),
        )
    consultation.recording_url = url
    consultation.recording_duration_seconds = duration_seconds
    consultation.recording_size_bytes = size_bytes
    await session.flush()
    await audit.record(
        session,
        action="consultation.recording_update",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
    )
    await publish_update(session, consultation)
    return consultation
