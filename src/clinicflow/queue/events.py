"""The `queue:<doctor_id>:<date>` topic for the realtime hub.

Events on it, all ephemeral (`seq` null), each carrying the queue's `revision` so a client
keeps the newest state when two processes' events arrive out of order:

- `queue.snapshot`, sent on (re)subscribing: the public state (`serving_token`,
  `waiting_count`, `paused`, `doctor_away`, `average_minutes`, `order`: the waiting
  tokens, first to be seen first) and `entries`: every entry with names for staff, the
  patient's own (token, status, position, estimate) for a patient;
- `queue.updated`, after every change commits: the public state again, `changed` (id,
  token and status of the entries whose status moved) and `recalled_token`. A patient's
  position is the index of their token in `order`: one event serves every follower, and
  nobody learns another patient's name.

The queue's doctor following it counts as present in `queue-presence:<doctor_id>:<date>`
(nobody else does); the worker shows patients "doctor away" when that has been empty for
two minutes while they wait, and the doctor's coming back shows them back at once.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.identity import service as identity
from clinicflow.queue import access
from clinicflow.queue import service as queues
from clinicflow.realtime.connections import Member
from clinicflow.realtime.events import Event

KIND = "queue"
PRESENCE = "queue-presence"


def parse_key(key: str) -> tuple[uuid.UUID, date] | None:
    doctor, _sep, day = key.partition(":")
    try:
        return uuid.UUID(doctor), date.fromisoformat(day)
    except ValueError:
        return None


def presence_topic(doctor_id: uuid.UUID, day: date) -> str:
    return f"{PRESENCE}:{doctor_id}:{day.isoformat()}"


async def doctor_arrived(session: AsyncSession, key: str) -> None:
    """The hub calls this when the queue's doctor (the only member who counts) starts
    following it."""
    parsed = parse_key(key)
    if parsed is not None:
        await queues.doctor_arrived(session=session, doctor_id=parsed[0], day=parsed[1])


def doctor_counts(member: Member, key: str) -> bool:
    """Only the queue's own doctor makes the queue's presence."""
    parsed = parse_key(key)
    return parsed is not None and access.is_queue_doctor(member, parsed[0])


class QueueTopic:
    """Followed by the queue's staff and by patients who hold a place in it; others (and a
    missing doctor) get the same False."""

    kind = KIND

    async def authorize(self, *, session: AsyncSession, user: Actor, key: str) -> bool:
        parsed = parse_key(key)
        if parsed is None:
            return False
        doctor_id, day = parsed
        try:
            await identity.get_doctor(session, doctor_id)
        except AppError as exc:
            if exc.code is ErrorCode.not_found:
                return False
            raise
        return await access.can_follow(session, user, doctor_id, day)

    async def replay(
        self, *, session: AsyncSession, user: Actor, key: str, since: int | None, limit: int
    ) -> list[Event]:
        parsed = parse_key(key)
        if parsed is None:
            return []
        doctor_id, day = parsed
        data = await queues.snapshot_for(session, user, doctor_id, day)
        return [Event(topic=queues.topic(doctor_id, day), type=queues.SNAPSHOT, data=data)]
