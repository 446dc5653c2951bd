"""The rules of draft prescriptions: kept per consultation for its doctor, shown to nobody
else, and gone once the doctor issues them from the records form or discards them.

A draft reaches the patient only as the prescription the doctor submits through the records
prescription form (records' own service and rules: the consultation must have ended), so
the assistant never prescribes by itself. Every save, read, discard and use is audited.

Records sits below the assistant and never imports it: its chart asks for drafts through
its own `DraftSource` protocol (`records/pages.py`), and `app.py` hands it `ChartDrafts`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import realtime
from clinicflow.assistant import access
from clinicflow.assistant.models import DraftRow
from clinicflow.assistant.prescription import PrescriptionDraft
from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationView
from clinicflow.core import audit, clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import not_found


async def _row(session: AsyncSession, consultation_id: uuid.UUID) -> DraftRow | None:
    return await session.scalar(select(DraftRow).where(DraftRow.consultation_id == consultation_id))


async def _audit(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, action: str, **details: Any
) -> None:
    await audit.record(
        session,
        action=f"assistant.draft_{action}",
        resource_type="consultation",
        resource_id=consultation_id,
        actor=actor,
        details=details,
    )


def content(row: DraftRow) -> PrescriptionDraft:
    return PrescriptionDraft.model_validate_json(row.content)


async def save(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation: ConsultationView,
    question_seq: int,
    draft: PrescriptionDraft,
) -> DraftRow:
    """Keep the draft for the consultation's doctor, replacing an earlier one, and tell the
    doctor's pages (`assistant.draft` on `user:<doctor>`, never the consultation's topic)."""
    access.require_draft_owner(actor, consultation.doctor_id)
    now = clock.now()
    row = await _row(session, consultation.id)
    if row is None:
        row = DraftRow(
            consultation_id=consultation.id, doctor_id=consultation.doctor_id, created_at=now
        )
        session.add(row)
    row.question_seq = question_seq
    row.content = draft.model_dump_json()
    row.updated_at = now
    await session.flush()
    await realtime.publish_to_user(
        session,
        consultation.doctor_id,
        type="assistant.draft",
        data={
            "consultation_id": str(consultation.id),
            "question_seq": question_seq,
            "draft": draft.model_dump(mode="json"),
        },
    )
    await _audit(
        session,
        actor,
        consultation.id,
        "saved",
        question_seq=question_seq,
        medications=len(draft.medications),
    )
    return row


async def read(*, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID) -> DraftRow:
    """The consultation's draft, for its doctor; not-found for everyone else and when there
    is none."""
    consultation = await consultations.consultation_for(
        session=session, actor=actor, consultation_id=consultation_id
    )
    access.require_draft_owner(actor, consultation.doctor_id)
    row = await _row(session, consultation.id)
    if row is None:
        raise not_found()
    await _audit(session, actor, consultation.id, "read", question_seq=row.question_seq)
    return row


async def discard(*, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID) -> None:
    row = await read(session=session, actor=actor, consultation_id=consultation_id)
    await session.delete(row)
    await _audit(session, actor, consultation_id, "discarded", question_seq=row.question_seq)


class ChartDrafts:
    """The drafts as records' chart uses them (records' `DraftSource`): to prefill the
    prescription forms, and gone once the prescription they prefilled is issued."""

    async def prefills(
        self, *, session: AsyncSession, actor: Actor, consultation_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, dict[str, Any]]:
        """The actor's own drafts among these consultations, as the form's values; each one
        shown is audited as read."""
        ids = list(consultation_ids)
        if not ids:
            return {}
        rows = [
            row
            for row in await session.scalars(
                select(DraftRow).where(DraftRow.consultation_id.in_(ids))
            )
            if access.is_doctor_of(actor, row.doctor_id)
        ]
        for row in rows:
            await _audit(session, actor, row.consultation_id, "read", question_seq=row.question_seq)
        return {row.consultation_id: content(row).model_dump() for row in rows}

    async def used(
        self, *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
    ) -> None:
        """The doctor issued the prescription the draft prefilled: the draft has done its
        work."""
        row = await _row(session, consultation_id)
        if row is None or not access.is_doctor_of(actor, row.doctor_id):
            return
        await session.delete(row)
        await _audit(session, actor, consultation_id, "used", question_seq=row.question_seq)


async def forget(session: AsyncSession, consultation_ids: Iterable[uuid.UUID]) -> None:
    """Drafts never issued go with the consultation's memory: both are working notes."""
    ids = list(consultation_ids)
    if ids:
        await session.execute(delete(DraftRow).where(DraftRow.consultation_id.in_(ids)))
