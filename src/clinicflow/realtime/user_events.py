"""The per-user event log: what is published on `user:<id>` is also stored, numbered per
person, so a page that cannot open a socket can poll the topic
(`GET /api/events?topic=user:<id>&since=`) and a socket that reconnects resumes it.

Why realtime keeps it: `user:<id>` belongs to no domain's rows (the bell's count, a
doctor's new request, a meeting link are announcements, not records), so the only place
that sees all of them is the publisher. Every domain publishes on a person's topic through
`publish_to_user`, never `publish_on_commit`, and this module is the one writer of the
two tables.

Bounded twice: at most `KEEP_PER_USER` events per person (older ones are deleted by the
write that passes the bound) and none older than `RETENTION` (`prune`, a worker job). A
client that was away longer gets what is left, and its page reloads what it shows anyway.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.realtime.events import Event
from clinicflow.realtime.models import UserEvent, UserEventHead
from clinicflow.realtime.publish import publish_on_commit

KEEP_PER_USER = 200
RETENTION = timedelta(days=3)
PRUNE_SECONDS = 3600.0


def topic_of(user_id: uuid.UUID) -> str:
    return f"user:{user_id}"


async def _next_seq(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Take the person's next seq: one upsert that both creates the counter and moves it,
    so two first events of one person cannot both insert it (the same on SQLite and
    PostgreSQL). The row stays locked until commit, so seqs commit in order."""
    dialect = session.get_bind().dialect.name
    build = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        build(UserEventHead)
        .values(user_id=user_id, last_seq=1)
        .on_conflict_do_update(
            index_elements=[UserEventHead.user_id],
            set_={"last_seq": UserEventHead.last_seq + 1},
        )
        .returning(UserEventHead.last_seq)
    )
    seq: int = (await session.execute(statement)).scalar_one()
    return seq


async def publish_to_user(
    session: AsyncSession, user_id: uuid.UUID, *, type: str, data: dict[str, Any]
) -> Event:
    """Store an event for one person and publish it once this transaction commits.

    The stored row and the publish commit or vanish together (a rolled-back savepoint
    takes its row with it), and the event carries its `seq`, so followers see each once
    and in order, over a socket or by polling. `data` must be JSON-ready."""
    seq = await _next_seq(session, user_id)
    now = clock.now()
    session.add(
        UserEvent(user_id=user_id, seq=seq, type=type, data=json.dumps(data), created_at=now)
    )
    if seq > KEEP_PER_USER:
        await session.execute(
            delete(UserEvent).where(
                UserEvent.user_id == user_id, UserEvent.seq <= seq - KEEP_PER_USER
            )
        )
    await session.flush()
    event = Event(topic=topic_of(user_id), type=type, data=data, seq=seq)
    publish_on_commit(session, event)
    return event


async def replay(
    session: AsyncSession, user_id: uuid.UUID, *, since: int | None, limit: int
) -> list[Event]:
    """The person's events after `since`, oldest first. Without `since` nothing: a page
    draws the present when it loads and follows from there (`head` says where that is)."""
    if since is None:
        return []
    rows = await session.scalars(
        select(UserEvent)
        .where(UserEvent.user_id == user_id, UserEvent.seq > since)
        .order_by(UserEvent.seq)
        .limit(limit)
    )
    return [
        Event(topic=topic_of(user_id), type=row.type, data=json.loads(row.data), seq=row.seq)
        for row in rows
    ]


async def head(session: AsyncSession, user_id: uuid.UUID) -> int:
    """The last seq given on the person's topic (0 before the first), so a poller that
    starts now asks for what comes after it."""
    last = await session.scalar(
        select(UserEventHead.last_seq).where(UserEventHead.user_id == user_id)
    )
    return int(last or 0)


async def prune(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Delete every person's events older than `RETENTION`; the counters stay."""
    cutoff = (now or clock.now()) - RETENTION
    result = await session.execute(delete(UserEvent).where(UserEvent.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
