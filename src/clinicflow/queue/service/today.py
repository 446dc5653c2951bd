"""Today's figures of the queues, for the home pages: how many wait, who is ready online,
how many were seen or missed. Counts only (and the ready patients' names for staff), so a
home page never loads a whole queue to show four numbers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.core.errors import not_found
from clinicflow.identity import service as identity
from clinicflow.queue import access
from clinicflow.queue.models import QueueEntry
from clinicflow.queue.schemas import EntryStatus
from clinicflow.queue.service import other_domains
from clinicflow.queue.service.days import get_queue
from clinicflow.queue.service.queue_state import topic

E = EntryStatus


@dataclass(frozen=True)
class QueueToday:
    """One doctor's queue of their today in numbers. `revision` is the queue's (0 before its
    first patient), so a page can tell which of two drawings is newer."""

    doctor_id: uuid.UUID
    day: date
    topic: str
    revision: int
    joined: int
    waiting: int
    in_consultation: int
    completed: int
    no_shows: int
    ready_online: tuple[str, ...]


async def queues_today(
    *, session: AsyncSession, actor: Actor, doctor_ids: Sequence[uuid.UUID]
) -> list[QueueToday]:
    """Each named doctor's queue of their own today, for whoever sees the whole queue (the
    front desk, or the queue's doctor); a queue the actor may not see is not found."""
    answer = []
    for doctor_id in doctor_ids:
        if not access.sees_whole_queue(actor, doctor_id):
            raise not_found()
        day = await other_domains.doctor_today(session, doctor_id)
        answer.append(await _one(session, doctor_id, day))
    return answer


async def _one(session: AsyncSession, doctor_id: uuid.UUID, day: date) -> QueueToday:
    queue = await get_queue(session, doctor_id, day)
    if queue is None:
        return QueueToday(doctor_id, day, topic(doctor_id, day), 0, 0, 0, 0, 0, 0, ())
    counts = {
        status: count
        for status, count in await session.execute(
            select(QueueEntry.status, func.count())
            .where(QueueEntry.queue_id == queue.id)
            .group_by(QueueEntry.status)
        )
    }
    ready = list(
        await session.scalars(
            select(QueueEntry.patient_id)
            .where(
                QueueEntry.queue_id == queue.id,
                QueueEntry.status == E.waiting,
                QueueEntry.online.is_(True),
                QueueEntry.ready_at.is_not(None),
            )
            .order_by(QueueEntry.ready_at)
        )
    )
    names = await identity.names(session, ready)
    return QueueToday(
        doctor_id=doctor_id,
        day=day,
        topic=topic(doctor_id, day),
        revision=queue.revision,
        joined=sum(counts.values()),
        waiting=counts.get(E.waiting, 0),
        in_consultation=counts.get(E.in_consultation, 0),
        completed=counts.get(E.completed, 0),
        no_shows=counts.get(E.no_show, 0),
        ready_online=tuple(names.get(patient, "") for patient in ready),
    )
