"""What the `@b` assistant reads of a consultation and how it adds its outcome.

Kept apart from the send path: the assistant reacts to a message once it is stored and
adds its outcome through these, so `send_message` knows nothing of it. They answer frozen
views (`schemas.ConsultationView`, `schemas.SaidMessage`), never the tables, so the
assistant reads a conversation without holding (or being able to change) its rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import access, schemas
from clinicflow.consultations.models import Consultation, Message
from clinicflow.consultations.schemas import ConsultationStatus, MessageKind, SenderRole
from clinicflow.consultations.service.for_records import consultation_for
from clinicflow.consultations.service.lifecycle import LIVE
from clinicflow.consultations.service.sending import append
from clinicflow.core.audit import Actor
from clinicflow.core.errors import not_found

S = ConsultationStatus
ASSISTANT_CLIENT_ID = "assistant:{seq}"
SHARED_CLIENT_ID = "shared:{seq}"


def _said(message: Message) -> schemas.SaidMessage:
    return schemas.SaidMessage(
        id=message.id,
        consultation_id=message.consultation_id,
        seq=message.seq,
        sender_id=message.sender_id,
        sender_role=message.sender_role,
        kind=message.kind,
        body=message.body,
        created_at=message.created_at,
        private_to_id=message.private_to_id,
    )


async def message_at(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, seq: int
) -> tuple[schemas.ConsultationView, schemas.SaidMessage]:
    """One message of a consultation the actor may read, by its `seq` (not found otherwise)."""
    consultation = await consultation_for(
        session=session, actor=actor, consultation_id=consultation_id
    )
    message = await session.scalar(
        select(Message).where(
            Message.consultation_id == consultation.id,
            Message.seq == seq,
            access.visible_messages(actor),
        )
    )
    if message is None:
        raise not_found()
    return consultation, _said(message)


async def transcript(
    *, session: AsyncSession, reader: Actor, consultation: schemas.ConsultationView, limit: int
) -> list[schemas.SaidMessage]:
    """The latest `limit` text messages `reader` may see, oldest first: what the assistant
    may draw on when answering them (never the doctor's private thread for the patient). Not
    audited here; the assistant writes one audit row per request naming what it used."""
    newest_first = await session.scalars(
        select(Message)
        .where(
            Message.consultation_id == consultation.id,
            Message.kind == MessageKind.text,
            access.visible_messages(reader),
        )
        .order_by(Message.seq.desc())
        .limit(limit)
    )
    return [_said(message) for message in newest_first][::-1]


async def add_assistant_outcome(
    *,
    session: AsyncSession,
    consultation: schemas.ConsultationView,
    question_seq: int,
    answer: bool,
    body: str,
    sender_id: uuid.UUID | None,
    private_to_id: uuid.UUID | None,
) -> tuple[schemas.MessageView, bool]:
    """The one outcome of the question at `question_seq` while the consultation is open: an
    `answer` (kind `assistant`) or a system message (a refusal, an error, a cancellation).
    The outcome of a private question (`private_to_id`, the doctor's) is private too.

    Its client id is fixed per question, so the unique index lets exactly one outcome in:
    a cancel racing the answer, or a second process answering, stores nothing and gets
    (the stored outcome, False).
    """
    # The row the view was read from, already in this session when the view came from
    # `message_at` or `consultation_for`: the send path numbers messages on it.
    row = await session.get(Consultation, consultation.id)
    if row is None:
        raise not_found()
    return await append(
        session,
        row,
        client_id=ASSISTANT_CLIENT_ID.format(seq=question_seq),
        sender_id=sender_id,
        sender_role=SenderRole.assistant if answer else SenderRole.system,
        kind=MessageKind.assistant if answer else MessageKind.system,
        body=body,
        statuses=LIVE,
        private_to_id=private_to_id,
    )


async def share_private_answer(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, seq: int
) -> tuple[schemas.MessageView, bool]:
    """Post the assistant's private answer at `seq` into the chat as the doctor's own
    message, word for word, once (its client id is fixed by `seq`: sharing twice answers
    with the first share). Only the doctor whose thread it is may share it; to anyone else
    it does not exist."""
    consultation = await access.get_consultation_for(session, actor, consultation_id)
    answer = await session.scalar(
        select(Message).where(
            Message.consultation_id == consultation.id,
            Message.seq == seq,
            Message.kind == MessageKind.assistant,
            Message.private_to_id == actor.id,
        )
    )
    if answer is None:
        raise not_found()
    statuses = access.require_writer(actor, consultation)
    return await append(
        session,
        consultation,
        client_id=SHARED_CLIENT_ID.format(seq=seq),
        sender_id=actor.id,
        sender_role=SenderRole.doctor,
        kind=MessageKind.text,
        body=answer.body,
        statuses=statuses,
    )


async def ended_between(
    *, session: AsyncSession, after: datetime, before: datetime
) -> list[uuid.UUID]:
    """Consultations that closed (ended or declined) in `[after, before)`."""
    rows = await session.scalars(
        select(Consultation.id).where(
            Consultation.status.in_([S.ended, S.declined]),
            Consultation.ended_at >= after,
            Consultation.ended_at < before,
        )
    )
    return list(rows)
