"""What the home pages read of the medical record: a patient's latest prescription, and a
doctor's visits of a span of time that still have no note."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationType
from clinicflow.core.audit import Actor
from clinicflow.identity import service as identity
from clinicflow.records import access, schemas
from clinicflow.records.models import Prescription, VisitNoteVersion
from clinicflow.records.service.prescriptions import describe_prescriptions
from clinicflow.records.service.read_audit import audit_read


@dataclass(frozen=True)
class VisitWithoutNote:
    """A visit the doctor may still write a note for and has not."""

    consultation_id: uuid.UUID
    patient_name: str
    type: ConsultationType
    created_at: datetime


async def last_prescription(
    *, session: AsyncSession, actor: Actor, public_url: str
) -> schemas.PrescriptionOut | None:
    """The actor's own latest prescription that has not been corrected since, or None.
    Read as the record is (`access.require_clinical_reader`: a patient's own); a staff
    member has no record of their own and is told not-found like anyone else."""
    await access.require_clinical_reader(session, actor, actor.id)
    corrected = select(Prescription.supersedes_id).where(Prescription.supersedes_id.is_not(None))
    row = await session.scalar(
        select(Prescription)
        .where(Prescription.patient_id == actor.id, Prescription.id.not_in(corrected))
        .order_by(Prescription.issued_at.desc(), Prescription.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    await audit_read(session, actor, "records.prescription_read", "prescription", row.id)
    described = await describe_prescriptions(
        session, [row], public_url=public_url, staff=access.sees_overrides(actor)
    )
    return described[0]


async def visits_without_note(
    *, session: AsyncSession, actor: Actor, start: datetime, end: datetime
) -> list[VisitWithoutNote]:
    """The actor's visits begun in [start, end) that they may write a note for
    (`access.can_write_visit`: their own, over, or in person under way) and that have
    none yet, oldest first. Anyone who is not a doctor has none."""
    visits = [
        visit
        for visit in await consultations.visits_of_doctor(
            session=session, doctor_id=actor.id, start=start, end=end
        )
        if access.can_write_visit(actor, visit)
    ]
    if not visits:
        return []
    noted = set(
        await session.scalars(
            select(VisitNoteVersion.consultation_id).where(
                VisitNoteVersion.consultation_id.in_([visit.id for visit in visits])
            )
        )
    )
    missing = [visit for visit in visits if visit.id not in noted]
    names = await identity.names(session, {visit.patient_id for visit in missing})
    return [
        VisitWithoutNote(
            consultation_id=visit.id,
            patient_name=names.get(visit.patient_id, ""),
            type=visit.type,
            created_at=visit.created_at,
        )
        for visit in missing
    ]
