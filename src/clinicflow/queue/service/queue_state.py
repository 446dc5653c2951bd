"""The state of a queue as everyone sees it (order, positions, the pace), and its announcement.

After a change's transaction commits, `queue.updated` tells every follower of
`queue:<doctor_id>:<date>` the new state; one event serves them all, since a patient's
position is the index of their token in `order`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import realtime
from clinicflow.core import clock
from clinicflow.notifications import service as notifications
from clinicflow.queue import priority, schemas
from clinicflow.queue.models import Queue, QueueEntry
from clinicflow.queue.schemas import EntryStatus
from clinicflow.queue.service import other_domains
from clinicflow.queue.service.rules import current_rules

E = EntryStatus
UPDATED = "queue.updated"
SNAPSHOT = "queue.snapshot"
AVERAGE_OVER = 20
# One short visit must not make every estimate "about 0 min": the pace is trusted only from
# this many finished visits on, and never below the floor.
MIN_FINISHED_VISITS = 3
FLOOR_MINUTES = 3.0
# The doctor's typical minutes per visit when the caller has none to give.
DEFAULT_TYPICAL_MINUTES = 10.0


def topic(doctor_id: uuid.UUID, day: date) -> str:
    return f"queue:{doctor_id}:{day.isoformat()}"


@dataclass(frozen=True)
class State:
    """A queue as everyone sees it at one moment: the order of those waiting and the pace."""

    queue: Queue
    ordered: list[priority.Candidate]
    average_minutes: float
    now: datetime
    positions: dict[uuid.UUID, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "positions", {waiting.id: index for index, waiting in enumerate(self.ordered)}
        )

    @property
    def waiting_count(self) -> int:
        return len(self.ordered)

    def position(self, entry: QueueEntry) -> int | None:
        return self.positions.get(entry.id)

    def entry(self, entry: QueueEntry, patient_name: str | None = None) -> schemas.EntryOut:
        return entry_out(
            entry,
            position=self.position(entry) if entry.status is E.waiting else None,
            average_minutes=self.average_minutes,
            now=self.now,
            patient_name=patient_name,
            doctor_away=self.queue.doctor_away,
        )

    def public(self) -> dict[str, Any]:
        """What every follower may know: numbers, never names."""
        return {
            "doctor_id": str(self.queue.doctor_id),
            "date": self.queue.day.isoformat(),
            "revision": self.queue.revision,
            "serving_token": self.queue.serving_token,
            "waiting_count": self.waiting_count,
            "paused": self.queue.paused,
            "doctor_away": self.queue.doctor_away,
            "average_minutes": round(self.average_minutes, 1),
            "order": [waiting.token for waiting in self.ordered],
        }


def entry_out(
    entry: QueueEntry,
    *,
    position: int | None,
    average_minutes: float,
    now: datetime,
    patient_name: str | None,
    doctor_away: bool = False,
) -> schemas.EntryOut:
    """An entry as the API shows it. While the doctor is away there is no estimate (null):
    a time computed from a pace nobody is keeping would be a promise the clinic breaks."""
    minutes = None if position is None or doctor_away else round(position * average_minutes)
    return schemas.EntryOut(
        id=entry.id,
        token=entry.token,
        status=entry.status,
        position=position,
        estimated_wait_minutes=minutes,
        estimated_at=None if minutes is None else now + timedelta(minutes=minutes),
        severity=entry.severity,
        patient_type=entry.patient_type,
        source=entry.source,
        doctor_id=entry.doctor_id,
        date=entry.day,
        patient_id=entry.patient_id,
        patient_name=patient_name,
        appointment_id=entry.appointment_id,
        consultation_id=entry.consultation_id,
        online=entry.online,
        joined_at=entry.joined_at,
        ready_at=entry.ready_at,
        called_at=entry.called_at,
        skipped_at=entry.skipped_at,
        finished_at=entry.finished_at,
    )


# What ordering reads of each waiting entry, in `priority.Candidate`'s field order: plain
# rows rather than entries, since every snapshot and change orders the whole queue.
CANDIDATE_COLUMNS = (
    QueueEntry.id,
    QueueEntry.token,
    QueueEntry.severity,
    QueueEntry.patient_type,
    QueueEntry.joined_at,
    QueueEntry.appointment_starts_at,
    QueueEntry.pinned_before_id,
    QueueEntry.pinned_at,
)


def visit_minutes(
    durations_seconds: Sequence[float], *, typical_minutes: float = DEFAULT_TYPICAL_MINUTES
) -> float:
    """The minutes one visit is expected to take: the mean of the finished visits given, once
    there are `MIN_FINISHED_VISITS` of them, else the doctor's typical minutes; never less
    than `FLOOR_MINUTES` (a 24-second visit made every estimate "about 0 min")."""
    if len(durations_seconds) < MIN_FINISHED_VISITS:
        return max(FLOOR_MINUTES, typical_minutes)
    return max(FLOOR_MINUTES, sum(durations_seconds) / len(durations_seconds) / 60)


async def average_minutes(session: AsyncSession, doctor_id: uuid.UUID) -> float:
    """The doctor's pace from their last `AVERAGE_OVER` finished visits (any day); the
    typical minutes it falls back to are their profile's (`other_domains.usual_visit_minutes`)."""
    durations = await session.scalars(
        select(QueueEntry.duration_seconds)
        .where(
            QueueEntry.doctor_id == doctor_id,
            QueueEntry.status == E.completed,
            QueueEntry.duration_seconds.is_not(None),
        )
        .order_by(QueueEntry.finished_at.desc())
        .limit(AVERAGE_OVER)
    )
    return visit_minutes(
        [float(seconds) for seconds in durations if seconds is not None],
        typical_minutes=await other_domains.usual_visit_minutes(session, doctor_id),
    )


async def not_opened(session: AsyncSession, doctor_id: uuid.UUID, day: date) -> State:
    """The state of a queue nobody has joined yet (its row is made by the first join)."""
    queue = Queue(
        id=uuid.uuid4(),
        doctor_id=doctor_id,
        day=day,
        last_token=0,
        revision=0,
        paused=False,
        doctor_away=False,
        created_at=clock.now(),
    )
    return State(queue, [], await average_minutes(session, doctor_id), clock.now())


async def state(session: AsyncSession, queue: Queue) -> State:
    rows = await session.execute(
        select(*CANDIDATE_COLUMNS).where(
            QueueEntry.queue_id == queue.id, QueueEntry.status == E.waiting
        )
    )
    now = clock.now()
    _row, rules = await current_rules(session)
    return State(
        queue=queue,
        ordered=priority.order((priority.Candidate(*row) for row in rows), rules, now),
        average_minutes=await average_minutes(session, queue.doctor_id),
        now=now,
    )


async def announce(
    session: AsyncSession,
    queue: Queue,
    changed: Sequence[QueueEntry] = (),
    *,
    recalled: QueueEntry | None = None,
) -> State:
    """Tell the queue's followers its new state once this transaction commits; `changed`
    names (by id, token and status) the entries whose own status moved."""
    await session.flush()
    current = await state(session, queue)
    data = current.public()
    data["changed"] = [
        {"id": str(e.id), "token": e.token, "status": e.status.value} for e in changed
    ]
    data["recalled_token"] = recalled.token if recalled else None
    realtime.publish_on_commit(
        session, realtime.Event(topic=topic(queue.doctor_id, queue.day), type=UPDATED, data=data)
    )
    head = await entries_of(session, current.ordered[: notifications.MILESTONES[-1][1]])
    await notifications.queue_positions(session, ordered=head)
    return current


async def entries_of(
    session: AsyncSession, waiting: Sequence[priority.Candidate]
) -> list[QueueEntry]:
    """The entries of these waiting places, in the same order."""
    ids = [place.id for place in waiting]
    found = await session.scalars(select(QueueEntry).where(QueueEntry.id.in_(ids)))
    by_id = {entry.id: entry for entry in found}
    return [by_id[entry_id] for entry_id in ids]
