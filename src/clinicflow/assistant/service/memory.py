"""The consultation's memory as its doctor keeps it: the panel's list, add, edit and delete
(each audited, each change announced to the doctor's open pages), and forgetting the
memory of consultations closed long ago. Where the items are kept is `memory_stores`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import realtime
from clinicflow.assistant import access, drafts
from clinicflow.assistant.memory_stores import MemoryItem, MemoryStore, new_item
from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationView
from clinicflow.core import audit, clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import CONTROL_CHARACTERS

MAX_MEMORY_TEXT = 2000


def _memory_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise AppError(ErrorCode.validation_error, _("Write something first."), {"field": "text"})
    if len(text) > MAX_MEMORY_TEXT:
        raise AppError(
            ErrorCode.validation_error,
            _("At most {count} characters, please.").format(count=MAX_MEMORY_TEXT),
            {"field": "text"},
        )
    if CONTROL_CHARACTERS.search(text):
        raise AppError(
            ErrorCode.validation_error,
            _("The text contains characters that cannot be stored."),
            {"field": "text"},
        )
    return text


async def _keeper_consultation(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> ConsultationView:
    consultation = await consultations.consultation_for(
        session=session, actor=actor, consultation_id=consultation_id
    )
    access.require_memory_keeper(actor, consultation.doctor_id)
    return consultation


async def _audit_memory(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, action: str, **details: Any
) -> None:
    """Audit a memory read or change; a change is also announced to the doctor's open pages
    (`assistant.memory` on `user:<doctor>`) so every panel shows the same list."""
    if action != "read":
        await realtime.publish_to_user(
            session,
            actor.id,
            type="assistant.memory",
            data={"consultation_id": str(consultation_id)},
        )
    await audit.record(
        session,
        action=f"assistant.memory_{action}",
        resource_type="consultation",
        resource_id=consultation_id,
        actor=actor,
        details=details,
    )


async def add_item(
    session: AsyncSession,
    actor: Actor,
    store: MemoryStore,
    consultation: ConsultationView,
    text: str,
    *,
    source_message_id: uuid.UUID | None,
    source_seq: int | None,
) -> MemoryItem:
    """Keep one item, checked and audited the same way whether it came from the panel or
    from `@b remember` in the chat (`asking`)."""
    item = await store.add(
        new_item(
            consultation_id=consultation.id,
            text=_memory_text(text),
            created_by_id=actor.id,
            source_message_id=source_message_id,
            source_seq=source_seq,
        )
    )
    await _audit_memory(
        session, actor, consultation.id, "add", item_id=str(item.id), source_seq=source_seq
    )
    return item


async def list_memory(
    *, session: AsyncSession, actor: Actor, store: MemoryStore, consultation_id: uuid.UUID
) -> list[MemoryItem]:
    consultation = await _keeper_consultation(session, actor, consultation_id)
    items = await store.items(consultation.id)
    if items:
        await _audit_memory(session, actor, consultation.id, "read", count=len(items))
    return items


async def add_memory(
    *,
    session: AsyncSession,
    actor: Actor,
    store: MemoryStore,
    consultation_id: uuid.UUID,
    text: str | None = None,
    message_seq: int | None = None,
) -> MemoryItem:
    """Remember `text`, or the message at `message_seq` (the "remember" action on a message)."""
    consultation = await _keeper_consultation(session, actor, consultation_id)
    if message_seq is None:
        return await add_item(
            session, actor, store, consultation, text or "", source_message_id=None, source_seq=None
        )
    _consultation, message = await consultations.message_at(
        session=session, actor=actor, consultation_id=consultation.id, seq=message_seq
    )
    if message.kind != "text":
        raise AppError(
            ErrorCode.validation_error,
            _("Only written messages can be remembered."),
            {"field": "message_seq"},
        )
    return await add_item(
        session,
        actor,
        store,
        consultation,
        text or message.body,
        source_message_id=message.id,
        source_seq=message.seq,
    )


async def update_memory(
    *,
    session: AsyncSession,
    actor: Actor,
    store: MemoryStore,
    consultation_id: uuid.UUID,
    item_id: uuid.UUID,
    text: str,
) -> MemoryItem:
    consultation = await _keeper_consultation(session, actor, consultation_id)
    item = await store.update(consultation.id, item_id, _memory_text(text))
    if item is None:
        raise not_found()
    await _audit_memory(session, actor, consultation.id, "update", item_id=str(item_id))
    return item


async def delete_memory(
    *,
    session: AsyncSession,
    actor: Actor,
    store: MemoryStore,
    consultation_id: uuid.UUID,
    item_id: uuid.UUID,
) -> None:
    consultation = await _keeper_consultation(session, actor, consultation_id)
    if not await store.delete(consultation.id, item_id):
        raise not_found()
    await _audit_memory(session, actor, consultation.id, "delete", item_id=str(item_id))


async def forget_closed(
    *, session: AsyncSession, store: MemoryStore, retention_days: int, ttl_days: int
) -> int:
    """Delete the memory (and any draft never issued) of consultations closed more than
    `retention_days` ago. Only those closed within the memory TTL before that are looked at:
    older Redis keys have expired by themselves, and database rows of older ones went in an
    earlier run (a worker stopped for longer than the TTL leaves those behind)."""
    before = clock.now() - timedelta(days=retention_days)
    ids = await consultations.ended_between(
        session=session, after=before - timedelta(days=ttl_days), before=before
    )
    await store.forget(ids)
    await drafts.forget(session, ids)
    return len(ids)
