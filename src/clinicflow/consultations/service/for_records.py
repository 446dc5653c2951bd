"""What the records domain reads of consultations, for a patient's medical record (the
assistant reads one consultation through `consultation_for` too).

They answer frozen views (`schemas.ConsultationView`, `schemas.ChatMessage`), never the
tables, so records reads a consultation without being able to change it.
`consultation_for` and `patient_messages` apply the consultation's own read rule (a
conversation is its two people's, whoever reads the record); the other patient-wide reads
have no access check of their own: the records domain's `access.py` decides who may read a
record before it asks.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import access, schemas
from clinicflow.consultations.models import Consultation, Message
from clinicflow.consultations.schemas import MessageKind
from clinicflow.consultations.service.checks import MAX_PAGE
from clinicflow.core.audit import Actor


def _view(consultation: Consultation) -> schemas.ConsultationView:
    return schemas.ConsultationView(
        id=consultation.id,
        patient_id=consultation.patient_id,
        doctor_id=consultation.doctor_id,
        appointment_id=consultation.appointment_id,
        type=consultation.type,
        status=consultation.status,
        problem=consultation.problem,
        created_at=consultation.created_at,
        duration_seconds=consultation.duration_seconds,
    )


async def consultation_for(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    for_update: bool = False,
) -> schemas.ConsultationView:
    """The consultation if the actor may read it, with the same not-found whether it is
    missing or not theirs (`access.get_consultation_for`). `for_update` keeps its row
    locked until commit, so a note or prescription written for it queues behind another
    one and behind a change of its status."""
    return _view(
        await access.get_consultation_for(session, actor, consultation_id, for_update=for_update)
    )


async def treats(session: AsyncSession, *, doctor_id: uuid.UUID, patient_id: uuid.UUID) -> bool:
    """Whether the doctor has ever had a consultation with the patient, of any type and in
    any status: part of the care relation that opens the patient's record to a doctor
    (records' `has_care_relation`). A consultation exists only once the patient asked for
    it or the doctor called them in the queue."""
    found = await session.scalar(
        select(Consultation.id)
        .where(Consultation.doctor_id == doctor_id, Consultation.patient_id == patient_id)
        .limit(1)
    )
    return found is not None


async def patient_consultations(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    before: tuple[datetime, uuid.UUID] | None = None,
    only: Collection[uuid.UUID] | None = None,
    limit: int = MAX_PAGE,
) -> list[schemas.ConsultationView]:
    """A patient's consultations, newest first by (created_at, id), within [start, end),
    before a cursor position, and among `only` when given. No access check: the records
    domain decides who may read a record before it asks."""
    query = select(Consultation).where(Consultation.patient_id == patient_id)
    if doctor_id is not None:
        query = query.where(Consultation.doctor_id == doctor_id)
    if start is not None:
        query = query.where(Consultation.created_at >= start)
    if end is not None:
        query = query.where(Consultation.created_at < end)
    if before is not None:
        query = query.where(tuple_(Consultation.created_at, Consultation.id) < before)
    if only is not None:
        query = query.where(Consultation.id.in_(list(only)))
    ordered = query.order_by(Consultation.created_at.desc(), Consultation.id.desc())
    return [_view(c) for c in await session.scalars(ordered.limit(limit))]


async def patient_messages(
    session: AsyncSession, *, patient_id: uuid.UUID, reader: Actor
) -> list[schemas.ChatMessage]:
    """The text messages of the patient's consultations that `reader` may read
    (`access.can_read`: its two people, and admins), in conversation order, with their
    bodies decrypted, without the doctor's private assistant thread (but to that doctor).
    Reading the patient's record does not open another doctor's
    conversation, so a search of the record never matches words the searcher could not
    read. Encrypted columns cannot be searched in SQL, so a search reads these rows and
    matches in Python."""
    readable = [
        consultation.id
        for consultation in await session.scalars(
            select(Consultation).where(Consultation.patient_id == patient_id)
        )
        if access.can_read(reader, consultation)
    ]
    if not readable:
        return []
    query = (
        select(Message)
        .where(
            Message.consultation_id.in_(readable),
            Message.kind == MessageKind.text,
            access.visible_messages(reader),
        )
        .order_by(Message.consultation_id, Message.seq)
    )
    return [
        schemas.ChatMessage(
            id=message.id,
            consultation_id=message.consultation_id,
            seq=message.seq,
            sender_id=message.sender_id,
            body=message.body,
            created_at=message.created_at,
        )
        for message in (await session.scalars(query)).unique()
    ]
