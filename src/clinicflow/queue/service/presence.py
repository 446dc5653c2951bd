"""The doctor's presence: "doctor away" while nobody of theirs follows the queue, and back
the moment they do. Each waiting patient is told once per absence (`away_notice_key`)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.notifications import service as notifications
from clinicflow.notifications.service import Kind
from clinicflow.queue.models import Queue, QueueEntry
from clinicflow.queue.schemas import EntryStatus
from clinicflow.queue.service.days import get_queue, lock
from clinicflow.queue.service.queue_state import announce, entries_of

E = EntryStatus


async def mark_doctors_away(
    *, session: AsyncSession, present: set[tuple[uuid.UUID, date]], away_after: timedelta
) -> int:
    """Queues with patients waiting whose doctor has had no socket on them for
    `away_after` are shown as "doctor away", and back when the doctor returns. `present`
    is the (doctor, day) pairs whose doctor is connected now. Answers how many changed."""
    now = clock.now()
    waiting_queues = select(QueueEntry.queue_id).where(QueueEntry.status == E.waiting)
    queues = list(
        await session.scalars(
            select(Queue).where(
                Queue.day.between(now.date() - timedelta(days=1), now.date() + timedelta(days=1)),
                Queue.id.in_(waiting_queues) | Queue.doctor_away.is_(True),
            )
        )
    )
    changed = 0
    for queue in queues:
        if (queue.doctor_id, queue.day) in present:
            queue.doctor_absent_since = None
            away = False
        else:
            queue.doctor_absent_since = queue.doctor_absent_since or now
            away = now - queue.doctor_absent_since >= away_after
        if away != queue.doctor_away:
            await _show_away(session, queue, away)
            changed += 1
    return changed


async def doctor_arrived(*, session: AsyncSession, doctor_id: uuid.UUID, day: date) -> None:
    """The doctor has just opened their queue for `day`: waiting patients see them back at
    once, not at the next sweep of `mark_doctors_away` (up to 15 s later), and the doctor's
    own page does not open on "doctor away"."""
    queue = await get_queue(session, doctor_id, day)
    if queue is None or (queue.doctor_absent_since is None and not queue.doctor_away):
        return
    queue.doctor_absent_since = None
    if queue.doctor_away:
        await _show_away(session, queue, False)


async def _show_away(session: AsyncSession, queue: Queue, away: bool) -> None:
    """Show the queue's doctor as away (telling the waiting patients) or back."""
    await lock(session, queue)
    queue.doctor_away = away
    current = await announce(session, queue)
    if away:
        for entry in await entries_of(session, current.ordered):
            await notifications.about_entry(
                session,
                kind=Kind.doctor_away,
                entry=entry,
                dedupe_key=away_notice_key(queue, entry),
            )


def away_notice_key(queue: Queue, entry: QueueEntry) -> str:
    """One "Doctor away" notice per place and absence. A doctor whose socket drops and comes
    back (a reload, a phone's screen going dark) flips the queue away and back many times in
    one absence; the absence only ends when they call a patient, which moves the serving
    token. So the key is the place and the token being served: repeats within one absence
    are the same notice, and the notifications' unique `dedupe_key` keeps it to one."""
    return f"doctor_away:{entry.id}:{queue.serving_token or 0}"
