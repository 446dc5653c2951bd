"""Missed turns: the grace period of a skipped patient, the worker's no-show sweep, and a new
token at the end of the day's queue, written into the visit's history."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import audit, clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.notifications import service as notifications
from clinicflow.notifications.service import Kind
from clinicflow.queue import access, priority
from clinicflow.queue.models import Queue, QueueEntry, Reassignment
from clinicflow.queue.schemas import EntrySource, EntryStatus
from clinicflow.queue.service import other_domains
from clinicflow.queue.service.days import lock, locked_entry, queue_of
from clinicflow.queue.service.lifecycle import START, require_status, transition
from clinicflow.queue.service.queue_state import announce
from clinicflow.queue.service.refusals import already_in_queue, conflict
from clinicflow.queue.service.rules import current_rules

E = EntryStatus


async def take_place_back(
    session: AsyncSession, actor: Actor, entry: QueueEntry
) -> QueueEntry | None:
    """A skipped patient who turns up before the grace period ends takes their place back.
    If it has ended (and the worker has not yet said so) the entry becomes a no-show now,
    and None is answered."""
    queue, entry = await locked_entry(session, actor, entry.id)
    _row, rules = await current_rules(session)
    if grace_over(entry, rules):
        await mark_no_show(session, entry)
        await announce(session, queue, [entry])
        return None
    # Two arrivals at once (the desk and the patient's phone): the second finds the place
    # already taken back, and answers it.
    if entry.status is not E.waiting:
        transition(entry, E.waiting)
    entry.skipped_at = None
    await announce(session, queue, [entry])
    return entry


def grace_over(entry: QueueEntry, rules: priority.Rules) -> bool:
    grace = timedelta(minutes=rules.no_show_grace_minutes)
    return entry.skipped_at is not None and clock.now() - entry.skipped_at >= grace


async def mark_no_show(session: AsyncSession, entry: QueueEntry) -> None:
    # A sweep that ran while this change waited for the queue's lock may have said so already.
    if entry.status is not E.no_show:
        transition(entry, E.no_show)
    if entry.appointment_id is not None:
        await other_domains.mark_missed(session, entry.appointment_id)


async def requeue(
    *,
    session: AsyncSession,
    actor: Actor,
    entry_id: uuid.UUID,
    reason: str | None = None,
) -> QueueEntry:
    """A patient who missed their turn asks for a new token: within the grace period they
    simply get their place back; after it, a new token at the end of the same day's queue,
    written into the visit's history."""
    entry = await access.get_entry_for(session, actor, entry_id)
    access.require_new_token_asker(actor, entry)
    if entry.status is E.skipped:
        back = await take_place_back(session, actor, entry)
        if back is not None:
            return back
    require_status(entry, E.no_show, to="requeue")
    queue = await queue_of(session, entry)
    await identity.get_doctor(session, entry.doctor_id)
    if queue.day != await other_domains.doctor_today(session, entry.doctor_id):
        raise conflict(ErrorCode.check_in_not_open, _("A new token is only given on the same day."))
    now = clock.now()
    try:
        async with session.begin_nested():
            token = await lock(session, queue, new_token=True)
            new = QueueEntry(
                id=uuid.uuid4(),
                queue_id=queue.id,
                doctor_id=entry.doctor_id,
                day=entry.day,
                patient_id=entry.patient_id,
                appointment_id=entry.appointment_id,
                appointment_starts_at=entry.appointment_starts_at,
                online=entry.online,
                consultation_id=entry.consultation_id,
                token=token,
                status=START,
                severity=entry.severity,
                patient_type=entry.patient_type,
                source=EntrySource.requeue,
                joined_at=now,
            )
            session.add(new)
            await session.flush()
    except IntegrityError:
        raise already_in_queue() from None
    why = (reason or "").strip()[:200] or "missed turn"
    session.add(
        Reassignment(
            id=uuid.uuid4(),
            patient_id=entry.patient_id,
            appointment_id=entry.appointment_id,
            old_entry_id=entry.id,
            new_entry_id=new.id,
            old_token=entry.token,
            new_token=new.token,
            reason=why,
            at=now,
        )
    )
    if entry.appointment_id is not None:
        await other_domains.readmit(session, entry.appointment_id)
    await audit.record(
        session,
        action="queue.requeue",
        resource_type="queue_entry",
        resource_id=new.id,
        actor=actor,
        # The reason is clinical text, kept encrypted on the reassignment, never in the
        # audit trail (which is not encrypted).
        details={"old_token": entry.token, "new_token": new.token},
    )
    await notifications.about_entry(session, kind=Kind.queue_new_token, entry=new)
    await announce(session, queue, [new])
    return new


async def expire_skipped(*, session: AsyncSession) -> int:
    """Skipped patients whose grace period has run out become no-shows (their appointment
    too); answers how many. Run by the worker."""
    _row, rules = await current_rules(session)
    cutoff = clock.now() - timedelta(minutes=rules.no_show_grace_minutes)
    expired = list(
        await session.scalars(
            select(QueueEntry)
            .where(QueueEntry.status == E.skipped, QueueEntry.skipped_at <= cutoff)
            .order_by(QueueEntry.queue_id)
        )
    )
    by_queue: dict[uuid.UUID, list[QueueEntry]] = {}
    for entry in expired:
        by_queue.setdefault(entry.queue_id, []).append(entry)
    for queue_id, entries in by_queue.items():
        queue = await session.get(Queue, queue_id)
        assert queue is not None
        await lock(session, queue)
        changed = []
        for entry in entries:
            await session.refresh(entry)
            if entry.status is E.skipped:
                await mark_no_show(session, entry)
                changed.append(entry)
        await announce(session, queue, changed)
    return len(expired)
