"""Reading the conversation: history pages going backwards, and what a (re)connecting
follower missed. Staff reads that return messages are audited."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import access
from clinicflow.consultations.models import Consultation, Message
from clinicflow.consultations.service.checks import MAX_PAGE
from clinicflow.core import audit
from clinicflow.core.audit import Actor


async def _audit_message_read(
    session: AsyncSession,
    actor: Actor,
    consultation: Consultation,
    messages: Sequence[Message],
) -> None:
    """Staff reads that return messages are audited; an empty answer shows nothing, so an
    idle poll leaves no row."""
    if not messages or not access.reads_are_audited(actor):
        return
    await audit.record(
        session,
        action="consultation.messages_read",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
        details={"from_seq": messages[0].seq, "to_seq": messages[-1].seq},
    )


async def history(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    before_seq: int | None = None,
    limit: int = 50,
) -> tuple[list[Message], int | None]:
    """A page of the conversation going backwards: the `limit` messages before
    `before_seq` (the latest ones without it), oldest first, and the `before_seq` of the
    page before it (None at the start). Seqs have no gaps, so seq 1 is the start (the
    doctor's private thread is left out for everyone else, so their pages may skip seqs)."""
    consultation = await access.get_consultation_for(session, actor, consultation_id)
    query = select(Message).where(
        Message.consultation_id == consultation.id, access.visible_messages(actor)
    )
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    newest_first = await session.scalars(
        query.order_by(Message.seq.desc()).limit(max(1, min(limit, MAX_PAGE)))
    )
    messages = list(newest_first)[::-1]
    await _audit_message_read(session, actor, consultation, messages)
    earlier = messages[0].seq if messages and messages[0].seq > 1 else None
    return messages, earlier


async def messages_after(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    since: int | None,
    limit: int,
) -> list[Message]:
    """What a (re)connecting follower missed: messages after `since`, in `seq` order."""
    consultation = await access.get_consultation_for(session, actor, consultation_id)
    query = select(Message).where(
        Message.consultation_id == consultation.id, access.visible_messages(actor)
    )
    if since is not None:
        query = query.where(Message.seq > since)
    messages = list(await session.scalars(query.order_by(Message.seq).limit(limit)))
    await _audit_message_read(session, actor, consultation, messages)
    return messages
