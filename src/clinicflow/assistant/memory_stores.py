"""Each consultation's memory behind one interface, in the database or in Redis.

Every call names the consultation, and both stores keep items under it (a column in the
database, a key per consultation in Redis), so no call can reach another consultation's
items. Redis holds each consultation's items in one hash whose TTL is renewed on every
change; the values are encrypted like message bodies.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from redis.asyncio import Redis
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.assistant.models import MemoryRow
from clinicflow.config import Settings
from clinicflow.core import clock, security

REDIS_PREFIX = "clinicflow:assistant:memory:"


@dataclass(frozen=True)
class MemoryItem:
    id: uuid.UUID
    consultation_id: uuid.UUID
    text: str
    source_message_id: uuid.UUID | None
    source_seq: int | None
    created_by_id: uuid.UUID
    created_at: datetime
    updated_at: datetime


def new_item(
    *,
    consultation_id: uuid.UUID,
    text: str,
    created_by_id: uuid.UUID,
    source_message_id: uuid.UUID | None = None,
    source_seq: int | None = None,
) -> MemoryItem:
    now = clock.now()
    return MemoryItem(
        id=uuid.uuid4(),
        consultation_id=consultation_id,
        text=text,
        source_message_id=source_message_id,
        source_seq=source_seq,
        created_by_id=created_by_id,
        created_at=now,
        updated_at=now,
    )


class MemoryStore(Protocol):
    async def add(self, item: MemoryItem) -> MemoryItem: ...

    async def items(self, consultation_id: uuid.UUID) -> list[MemoryItem]:
        """The consultation's items, oldest first."""
        ...

    async def update(
        self, consultation_id: uuid.UUID, item_id: uuid.UUID, text: str
    ) -> MemoryItem | None: ...

    async def delete(self, consultation_id: uuid.UUID, item_id: uuid.UUID) -> bool: ...

    async def forget(self, consultation_ids: list[uuid.UUID]) -> None:
        """Delete every item of these consultations."""
        ...


def _from_row(row: MemoryRow) -> MemoryItem:
    return MemoryItem(
        id=row.id,
        consultation_id=row.consultation_id,
        text=row.text,
        source_message_id=row.source_message_id,
        source_seq=row.source_seq,
        created_by_id=row.created_by_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class DatabaseMemoryStore:
    """Items as rows, in the caller's transaction: they commit or roll back with it."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, item: MemoryItem) -> MemoryItem:
        self._session.add(
            MemoryRow(
                id=item.id,
                consultation_id=item.consultation_id,
                text=item.text,
                source_message_id=item.source_message_id,
                source_seq=item.source_seq,
                created_by_id=item.created_by_id,
                created_at=item.created_at,
                updated_at=item.updated_at,
            )
        )
        await self._session.flush()
        return item

    async def _row(self, consultation_id: uuid.UUID, item_id: uuid.UUID) -> MemoryRow | None:
        row: MemoryRow | None = await self._session.scalar(
            select(MemoryRow).where(
                MemoryRow.id == item_id, MemoryRow.consultation_id == consultation_id
            )
        )
        return row

    async def items(self, consultation_id: uuid.UUID) -> list[MemoryItem]:
        rows = await self._session.scalars(
            select(MemoryRow)
            .where(MemoryRow.consultation_id == consultation_id)
            .order_by(MemoryRow.created_at, MemoryRow.id)
        )
        return [_from_row(row) for row in rows]

    async def update(
        self, consultation_id: uuid.UUID, item_id: uuid.UUID, text: str
    ) -> MemoryItem | None:
        row = await self._row(consultation_id, item_id)
        if row is None:
            return None
        row.text = text
        row.updated_at = clock.now()
        await self._session.flush()
        return _from_row(row)

    async def delete(self, consultation_id: uuid.UUID, item_id: uuid.UUID) -> bool:
        result = await self._session.execute(
            delete(MemoryRow).where(
                MemoryRow.id == item_id, MemoryRow.consultation_id == consultation_id
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def forget(self, consultation_ids: list[uuid.UUID]) -> None:
        if consultation_ids:
            await self._session.execute(
                delete(MemoryRow).where(MemoryRow.consultation_id.in_(consultation_ids))
            )


def _encode(item: MemoryItem) -> bytes:
    value = {
        "id": str(item.id),
        "consultation_id": str(item.consultation_id),
        "text": item.text,
        "source_message_id": str(item.source_message_id) if item.source_message_id else None,
        "source_seq": item.source_seq,
        "created_by_id": str(item.created_by_id),
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
    }
    return security.encrypt_bytes(json.dumps(value).encode())


def _decode(raw: bytes | str) -> MemoryItem:
    token = raw.encode() if isinstance(raw, str) else raw
    value = json.loads(security.decrypt_bytes(token))
    source = value["source_message_id"]
    return MemoryItem(
        id=uuid.UUID(value["id"]),
        consultation_id=uuid.UUID(value["consultation_id"]),
        text=value["text"],
        source_message_id=uuid.UUID(source) if source else None,
        source_seq=value["source_seq"],
        created_by_id=uuid.UUID(value["created_by_id"]),
        created_at=datetime.fromisoformat(value["created_at"]),
        updated_at=datetime.fromisoformat(value["updated_at"]),
    )


class RedisMemoryStore:
    """One hash per consultation (`clinicflow:assistant:memory:<consultation>`), item id →
    encrypted item, expiring `ttl_seconds` after its last change.

    Writes take effect at once, not at the caller's commit: a request that fails after a
    `remember` keeps the item, which the doctor can delete on the panel.
    """

    def __init__(self, redis: Redis, *, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    @staticmethod
    def key(consultation_id: uuid.UUID) -> str:
        return f"{REDIS_PREFIX}{consultation_id}"

    async def _put(self, item: MemoryItem) -> None:
        key = self.key(item.consultation_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, str(item.id), _encode(item))
            pipe.expire(key, self._ttl)
            await pipe.execute()

    async def add(self, item: MemoryItem) -> MemoryItem:
        await self._put(item)
        return item

    async def items(self, consultation_id: uuid.UUID) -> list[MemoryItem]:
        values = await self._redis.hvals(self.key(consultation_id))
        decoded = [_decode(raw) for raw in values]
        return sorted(decoded, key=lambda item: (item.created_at, str(item.id)))

    async def _get(self, consultation_id: uuid.UUID, item_id: uuid.UUID) -> MemoryItem | None:
        raw = await self._redis.hget(self.key(consultation_id), str(item_id))
        return _decode(raw) if raw is not None else None

    async def update(
        self, consultation_id: uuid.UUID, item_id: uuid.UUID, text: str
    ) -> MemoryItem | None:
        item = await self._get(consultation_id, item_id)
        if item is None:
            return None
        changed = dataclasses.replace(item, text=text, updated_at=clock.now())
        await self._put(changed)
        return changed

    async def delete(self, consultation_id: uuid.UUID, item_id: uuid.UUID) -> bool:
        removed = await self._redis.hdel(self.key(consultation_id), str(item_id))
        return bool(removed)

    async def forget(self, consultation_ids: list[uuid.UUID]) -> None:
        if consultation_ids:
            await self._redis.delete(*(self.key(c) for c in consultation_ids))


def store_for(settings: Settings, redis: Redis | None, session: AsyncSession) -> MemoryStore:
    """Redis when the process has it (memory is then shared by every process and expires by
    itself), the database otherwise."""
    if redis is not None:
        return RedisMemoryStore(redis, ttl_seconds=settings.assistant_memory_ttl_days * 86400)
    return DatabaseMemoryStore(session)
