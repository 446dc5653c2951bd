"""Sharing a private answer: the doctor's `@b` questions and their answers are theirs alone
(consultations keeps them as the doctor's private thread), until the doctor, having read an
answer, posts it into the chat as their own message for the patient to read."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import MessageView
from clinicflow.core import audit
from clinicflow.core.audit import Actor


async def share(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, answer_seq: int
) -> MessageView:
    """Post the private answer at `answer_seq` into the chat, word for word, as the doctor's
    message. Sharing it again answers with the first share; an answer that is not the
    actor's own private one is not found. Audited, as the patient now reads what the
    assistant said."""
    message, created = await consultations.share_private_answer(
        session=session, actor=actor, consultation_id=consultation_id, seq=answer_seq
    )
    if created:
        await audit.record(
            session,
            action="assistant.shared",
            resource_type="consultation",
            resource_id=consultation_id,
            actor=actor,
            details={"answer_seq": answer_seq, "message_seq": message.seq},
        )
    return message
