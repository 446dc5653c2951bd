"""Read-only figures about consultations for the analytics domain, aggregated in SQL:
per doctor over one window, the consultations opened by type and the assistant's answers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations.models import Consultation, Message
from clinicflow.consultations.schemas import SenderRole


@dataclass
class ConsultationFacts:
    doctor_id: uuid.UUID
    # `ConsultationType` value → consultations opened in the window.
    by_type: dict[str, int] = field(default_factory=dict)
    # Answers the assistant wrote in the window's consultations: one per question asked.
    assistant_answers: int = 0


async def consultation_facts(
    *, session: AsyncSession, start: datetime, end: datetime, doctor_id: uuid.UUID | None = None
) -> list[ConsultationFacts]:
    """Per doctor: consultations opened in `[start, end)` by type, and assistant answers
    written in it."""
    found: dict[uuid.UUID, ConsultationFacts] = {}

    def of(doctor: uuid.UUID) -> ConsultationFacts:
        return found.setdefault(doctor, ConsultationFacts(doctor))

    opened = (
        select(Consultation.doctor_id, Consultation.type, func.count())
        .where(Consultation.created_at >= start, Consultation.created_at < end)
        .group_by(Consultation.doctor_id, Consultation.type)
    )
    answers = (
        select(Consultation.doctor_id, func.count())
        .join(Message, Message.consultation_id == Consultation.id)
        .where(
            Message.sender_role == SenderRole.assistant,
            Message.created_at >= start,
            Message.created_at < end,
        )
        .group_by(Consultation.doctor_id)
    )
    if doctor_id is not None:
        opened = opened.where(Consultation.doctor_id == doctor_id)
        answers = answers.where(Consultation.doctor_id == doctor_id)
    for doctor, kind, count in await session.execute(opened):
        of(doctor).by_type[str(kind)] = int(count)
    for doctor, count in await session.execute(answers):
        of(doctor).assistant_answers = int(count)
    return sorted(found.values(), key=lambda f: str(f.doctor_id))
