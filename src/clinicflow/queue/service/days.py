"""A doctor's queue of one day: its row, made by the first join, and the row's lock.

Every change to a queue starts by bumping its row's `revision` with `UPDATE … RETURNING`
(`lock`), which also takes the row's lock, so changes to one queue run one after another and
each leaves a numbered state. The queue's row is always taken before its entries' rows: one
lock order, so two changes cannot deadlock.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.queue import access
from clinicflow.queue.models import Queue, QueueEntry


async def get_queue(session: AsyncSession, doctor_id: uuid.UUID, day: date) -> Queue | None:
    found: Queue | None = await session.scalar(
        select(Queue).where(Queue.doctor_id == doctor_id, Queue.day == day)
    )
    return found


async def open_queue(session: AsyncSession, doctor_id: uuid.UUID, day: date) -> Queue:
    """The day's queue, created by whoever joins first; a concurrent creator's row wins."""
    values = {
        "id": uuid.uuid4(),
        "doctor_id": doctor_id,
        "day": day,
        "last_token": 0,
        "revision": 0,
        "paused": False,
        "doctor_away": False,
        "created_at": clock.now(),
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(Queue).values(**values).on_conflict_do_nothing(index_elements=["doctor_id", "day"])
    )
    queue = await get_queue(session, doctor_id, day)
    assert queue is not None
    return queue


async def lock(session: AsyncSession, queue: Queue, *, new_token: bool = False) -> int:
    """Take the queue's row for this transaction and give the change its revision (and a
    new token when `new_token`); answers the token, or the revision."""
    statement = update(Queue).where(Queue.id == queue.id).values(revision=Queue.revision + 1)
    if new_token:
        statement = statement.values(last_token=Queue.last_token + 1)
    row = (
        await session.execute(
            statement.returning(Queue.revision, Queue.last_token).execution_options(
                synchronize_session=False
            )
        )
    ).one()
    await session.refresh(queue)
    return int(row.last_token if new_token else row.revision)


async def queue_to_join(session: AsyncSession, doctor_id: uuid.UUID, day: date) -> Queue:
    """The day's queue, its row taken before anything else a join writes: joins to one
    queue then run one after another from the start, so two desks registering the same
    new patient cannot deadlock on the patient's row and the queue's."""
    queue = await open_queue(session, doctor_id, day)
    await lock(session, queue)
    return queue


async def queue_of(session: AsyncSession, entry: QueueEntry) -> Queue:
    queue = await session.get(Queue, entry.queue_id)
    assert queue is not None
    return queue


async def locked_entry(
    session: AsyncSession, actor: Actor, entry_id: uuid.UUID
) -> tuple[Queue, QueueEntry]:
    """The entry and its queue, the queue's row taken first (the one lock order)."""
    entry = await access.get_entry_for(session, actor, entry_id)
    queue = await queue_of(session, entry)
    await lock(session, queue)
    await session.refresh(entry)
    return queue, entry
