"""One doctor's queue of a day as the staff pages draw it: who is with the doctor, who waits
(in the order they will be called) and who missed their turn, with names.

The desk draws one per doctor and the doctor one for themselves; both draw it again alone
(the page's live block) when the queue's topic says it changed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.deps import Viewer
from clinicflow.queue import service as queues
from clinicflow.queue.schemas import EntryOut, EntryStatus


@dataclass(frozen=True)
class StaffQueue:
    doctor_id: uuid.UUID
    doctor_name: str
    day: date
    topic: str
    # Every change bumps it; the page keeps the highest it has drawn and drops older news.
    revision: int
    serving_token: int | None
    waiting_count: int
    paused: bool
    doctor_away: bool
    current: EntryOut | None
    waiting: list[EntryOut]
    skipped: list[EntryOut]
    # Did not come, and hold no other place today: the desk may give them a new token.
    no_shows: list[EntryOut]


async def staff_queue(
    session: AsyncSession,
    viewer: Viewer,
    *,
    doctor_id: uuid.UUID,
    doctor_name: str,
    day: date | None,
) -> StaffQueue:
    """The queue as the service lets this viewer see it (`queues.queue_for`: every entry
    with names for the desk and the queue's doctor; the same not-found as a missing queue
    for anyone else)."""
    current, entries = await queues.queue_for(
        session=session, actor=viewer, doctor_id=doctor_id, day=day
    )
    names = await queues.visible_names(session, viewer, doctor_id, entries)
    shown = queues.queue_out(current, entries, names)
    by_token = {entry.token: entry for entry in shown.entries}
    holding = {e.patient_id for e in shown.entries if e.status in queues.ACTIVE}
    return StaffQueue(
        doctor_id=doctor_id,
        doctor_name=doctor_name,
        day=shown.date,
        topic=queues.topic(doctor_id, shown.date),
        revision=shown.revision,
        serving_token=shown.serving_token,
        waiting_count=shown.waiting_count,
        paused=shown.paused,
        doctor_away=shown.doctor_away,
        current=next((e for e in shown.entries if e.status is EntryStatus.in_consultation), None),
        waiting=[by_token[token] for token in shown.order if token in by_token],
        skipped=[e for e in shown.entries if e.status is EntryStatus.skipped],
        no_shows=[
            e
            for e in shown.entries
            if e.status is EntryStatus.no_show and e.patient_id not in holding
        ],
    )
