"""Visit notes: written by the consultation's doctor once it has ended; a change adds a
version (who, when, what), never overwrites one. Readers see the latest, marked as amended
when there is more than one; staff also see the earlier versions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import audit, clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import not_found
from clinicflow.records import access, schemas
from clinicflow.records.models import VisitNoteVersion
from clinicflow.records.rendering import markdown_to_html
from clinicflow.records.service.read_audit import audit_read


def note_out(versions: Sequence[VisitNoteVersion], *, with_history: bool) -> schemas.VisitNoteOut:
    """The latest version of a note (versions oldest first), with the earlier ones if asked."""
    latest = versions[-1]
    return schemas.VisitNoteOut(
        consultation_id=latest.consultation_id,
        body_markdown=latest.body_markdown,
        body_html=markdown_to_html(latest.body_markdown),
        diagnosis=latest.diagnosis,
        follow_up_on=latest.follow_up_on,
        version=latest.version,
        amended=len(versions) > 1,
        written_at=versions[0].created_at,
        updated_at=latest.created_at,
        history=[
            schemas.NoteVersionOut(
                version=v.version,
                body_markdown=v.body_markdown,
                diagnosis=v.diagnosis,
                follow_up_on=v.follow_up_on,
                author_id=v.author_id,
                created_at=v.created_at,
            )
            for v in versions[:-1]
        ]
        if with_history
        else None,
    )


async def versions_of(
    session: AsyncSession, consultation_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[VisitNoteVersion]]:
    """Every version of the notes of these consultations, oldest first, in one query."""
    wanted = list(set(consultation_ids))
    found: dict[uuid.UUID, list[VisitNoteVersion]] = {}
    if not wanted:
        return found
    rows = await session.scalars(
        select(VisitNoteVersion)
        .where(VisitNoteVersion.consultation_id.in_(wanted))
        .order_by(VisitNoteVersion.consultation_id, VisitNoteVersion.version)
    )
    for row in rows:
        found.setdefault(row.consultation_id, []).append(row)
    return found


async def write_visit_note(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    note: schemas.VisitNoteIn,
) -> schemas.VisitNoteOut:
    """Write the note, or amend it: a new version unless nothing changed (a repeated PUT
    stores nothing). The consultation's row is locked first, so two amendments queue and
    take consecutive version numbers."""
    consultation = await access.consultation_to_write(session, actor, consultation_id)
    versions = (await versions_of(session, [consultation.id])).get(consultation.id, [])
    if versions and (
        versions[-1].body_markdown,
        versions[-1].diagnosis,
        versions[-1].follow_up_on,
    ) == (note.body_markdown, note.diagnosis, note.follow_up_on):
        return note_out(versions, with_history=True)
    row = VisitNoteVersion(
        id=uuid.uuid4(),
        consultation_id=consultation.id,
        patient_id=consultation.patient_id,
        doctor_id=consultation.doctor_id,
        version=len(versions) + 1,
        body_markdown=note.body_markdown,
        diagnosis=note.diagnosis,
        follow_up_on=note.follow_up_on,
        author_id=actor.id,
        created_at=clock.now(),
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        action="records.visit_note_written",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
        details={"version": row.version, "length": len(note.body_markdown)},
    )
    return note_out([*versions, row], with_history=True)


async def read_visit_note(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
) -> schemas.VisitNoteOut:
    """The note for whoever may read the patient's record; a consultation without a note
    yet is not found, like one the actor may not see."""
    versions = (await versions_of(session, [consultation_id])).get(consultation_id)
    if not versions:
        raise not_found()
    await access.require_clinical_reader(session, actor, versions[0].patient_id)
    await audit_read(session, actor, "records.visit_note_read", "consultation", consultation_id)
    return note_out(versions, with_history=access.sees_amendments(actor))
