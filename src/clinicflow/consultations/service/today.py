"""What the doctor's home page reads of consultations: the requests waiting for them, and
the visits they finished in a span of time (the medical record asks for those, to tell
which still lack a note)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import access, schemas
from clinicflow.consultations.models import Consultation
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.consultations.service.checks import MAX_PAGE
from clinicflow.consultations.service.describing import describe
from clinicflow.core.audit import Actor


async def pending_requests(
    *, session: AsyncSession, actor: Actor, limit: int = 20
) -> tuple[int, list[schemas.ConsultationOut]]:
    """The requests waiting for this doctor to accept or decline, oldest first (the first
    `limit` of them), and how many there are. Nobody but a doctor receives requests
    (`access.receives_requests`), so anyone else has none."""
    if not access.receives_requests(actor):
        return 0, []
    mine = (
        Consultation.doctor_id == actor.id,
        Consultation.status == ConsultationStatus.pending,
    )
    total = await session.scalar(select(func.count()).select_from(Consultation).where(*mine))
    rows = list(
        await session.scalars(
            select(Consultation)
            .where(*mine)
            .order_by(Consultation.created_at, Consultation.id)
            .limit(max(1, min(limit, MAX_PAGE)))
        )
    )
    return total or 0, await describe(session, rows)


async def visits_of_doctor(
    *, session: AsyncSession, doctor_id: uuid.UUID, start: datetime, end: datetime
) -> list[schemas.ConsultationView]:
    """The doctor's consultations created in [start, end) that are over or, in person, under
    way: the visits a note is written for. No access check: the medical record, which
    asks, decides who may know (as for `consultation_for`'s other readers)."""
    rows = await session.scalars(
        select(Consultation)
        .where(
            Consultation.doctor_id == doctor_id,
            Consultation.created_at >= start,
            Consultation.created_at < end,
            Consultation.status.in_((ConsultationStatus.ended, ConsultationStatus.active)),
        )
        .order_by(Consultation.created_at, Consultation.id)
        .limit(MAX_PAGE)
    )
    return [
        schemas.ConsultationView(
            id=row.id,
            patient_id=row.patient_id,
            doctor_id=row.doctor_id,
            appointment_id=row.appointment_id,
            type=row.type,
            status=row.status,
            problem=row.problem,
            created_at=row.created_at,
            duration_seconds=row.duration_seconds,
        )
        for row in rows
    ]
