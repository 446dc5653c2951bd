"""Reading consultations: one by id, the actor's own list (newest first, by cursor), and the
front desk's list of who is with whom."""

from __future__ import annotations

import uuid

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import access, schemas
from clinicflow.consultations.models import Consultation
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.consultations.service.checks import MAX_PAGE
from clinicflow.consultations.service.describing import desk_entry, names_of_people
from clinicflow.consultations.service.lifecycle import LIVE
from clinicflow.core import cursors
from clinicflow.core.audit import Actor


async def get_consultation(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> Consultation:
    return await access.get_consultation_for(session, actor, consultation_id)


async def list_consultations(
    *,
    session: AsyncSession,
    actor: Actor,
    status: ConsultationStatus | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Consultation], str | None]:
    """The actor's consultations, newest first: a patient's own, a doctor's own, all for
    an admin (receptionists use the desk list)."""
    access.require_lister(actor)
    query = select(Consultation)
    if not access.sees_every_consultation(actor):
        query = query.where(
            (Consultation.patient_id == actor.id) | (Consultation.doctor_id == actor.id)
        )
    if status is not None:
        query = query.where(Consultation.status == status)
    if cursor:
        before_at, before_id = cursors.decode(cursor)
        query = query.where(
            tuple_(Consultation.created_at, Consultation.id) < (before_at, before_id)
        )
    limit = max(1, min(limit, MAX_PAGE))
    rows = list(
        await session.scalars(
            query.order_by(Consultation.created_at.desc(), Consultation.id.desc()).limit(limit + 1)
        )
    )
    next_cursor = (
        cursors.encode(rows[limit - 1].created_at, rows[limit - 1].id)
        if len(rows) > limit
        else None
    )
    return rows[:limit], next_cursor


async def desk(
    *, session: AsyncSession, actor: Actor, status: ConsultationStatus | None = None
) -> list[schemas.DeskEntry]:
    """Who is in consultation with whom right now (pending and active), oldest first."""
    access.require_desk(actor)
    statuses = [status] if status is not None else list(LIVE)
    rows = list(
        await session.scalars(
            select(Consultation)
            .where(Consultation.status.in_(statuses))
            .order_by(Consultation.created_at, Consultation.id)
            .limit(500)
        )
    )
    people = await names_of_people(session, rows)
    return [desk_entry(c, people) for c in rows]
