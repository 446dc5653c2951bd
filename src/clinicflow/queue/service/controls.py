"""The doctor's controls, the queue's own doctor only: call next, recall, finish (and "finish
and call next" in one step), no-show (a skip with a grace period), undo of the last call or
no-show, pause and resume.

Every status these write goes through `lifecycle.transition`, whose table lists the moves.

The visit follows the place. Calling an in-person patient (walk-in or in-person
appointment) opens an `in_person` consultation between the doctor and the patient, and the
entry keeps its `consultation_id`; finishing ends it. A called patient who is skipped, or
whose call is undone, did not have that visit: it is cancelled, and calling them again
opens a new one. So an in-person entry is `in_consultation` exactly while its visit is
active. (An online patient's consultation keeps its own rules: it opens at the call and
ends at the finish.)
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import service as consultations
from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.notifications import service as notifications
from clinicflow.notifications.service import Kind
from clinicflow.queue import access
from clinicflow.queue.models import Queue, QueueEntry
from clinicflow.queue.schemas import EntryStatus
from clinicflow.queue.service import other_domains
from clinicflow.queue.service.days import lock, locked_entry, open_queue
from clinicflow.queue.service.lifecycle import (
    ACTIVE,
    audit_entry,
    require_no_other_place,
    require_status,
    transition,
)
from clinicflow.queue.service.queue_state import State, announce, state
from clinicflow.queue.service.refusals import conflict
from clinicflow.scheduling.schemas import AppointmentView

E = EntryStatus
UNDO_SECONDS = 120


async def _today_queue_for_update(
    session: AsyncSession, actor: Actor, doctor_id: uuid.UUID, *, desk_too: bool = False
) -> Queue:
    if desk_too:
        access.require_caller(actor, doctor_id)
    else:
        access.require_queue_doctor(actor, doctor_id)
    await identity.get_doctor(session, doctor_id)
    queue = await open_queue(
        session, doctor_id, await other_domains.doctor_today(session, doctor_id)
    )
    await lock(session, queue)
    return queue


async def _in_consultation(session: AsyncSession, queue: Queue) -> QueueEntry | None:
    found: QueueEntry | None = await session.scalar(
        select(QueueEntry).where(
            QueueEntry.queue_id == queue.id, QueueEntry.status == E.in_consultation
        )
    )
    return found


async def _call(
    session: AsyncSession, actor: Actor, queue: Queue, entry: QueueEntry, action: str
) -> None:
    """Make `entry` the patient in consultation, remembering how to undo it."""
    if entry.status not in ACTIVE:
        await require_no_other_place(session, entry)
    busy = await _in_consultation(session, queue)
    if busy is not None and busy.id != entry.id:
        raise conflict(
            ErrorCode.doctor_busy,
            _("Finish the current patient first."),
            entry_id=str(busy.id),
            token=busy.token,
        )
    appointment = (
        await other_domains.find_appointment(session, entry.appointment_id)
        if entry.appointment_id
        else None
    )
    if entry.online and appointment is not None:
        meet_url = await other_domains.doctor_meet_url(session, queue.doctor_id)
        if not meet_url:
            raise conflict(
                ErrorCode.meet_link_required,
                _("Set your meeting link before calling an online patient."),
            )
        entry.consultation_id = await other_domains.open_consultation(
            session, actor, appointment, meet_url
        )
    elif not entry.online:
        entry.consultation_id = await other_domains.open_visit(
            session, actor, queue.doctor_id, entry.patient_id, appointment
        )
    now = clock.now()
    _remember(queue, entry, action, now, appointment.status.value if appointment else None)
    transition(entry, E.in_consultation)
    entry.called_at = now
    entry.skipped_at = None
    queue.serving_token = entry.token
    if appointment is not None:
        await other_domains.begin_visit(session, appointment.id)
    await notifications.about_entry(session, kind=Kind.queue_turn, entry=entry)


async def _visit_not_held(session: AsyncSession, actor: Actor, entry: QueueEntry) -> None:
    """The in-person patient is no longer with the doctor without having been seen
    (skipped, or their call undone): their visit is cancelled."""
    if not entry.online and entry.consultation_id is not None:
        await other_domains.cancel_visit(session, actor, entry.consultation_id)


def _remember(
    queue: Queue, entry: QueueEntry, action: str, now: datetime, appointment_status: str | None
) -> None:
    """Keep what `undo` puts back: the entry's times and status, and the queue's and the
    appointment's, as they were before this call or no-show."""
    queue.last_action = {
        "action": action,
        "entry_id": str(entry.id),
        "at": now.isoformat(),
        "status": entry.status.value,
        "called_at": entry.called_at.isoformat() if entry.called_at else None,
        "skipped_at": entry.skipped_at.isoformat() if entry.skipped_at else None,
        "serving_token": queue.serving_token,
        "appointment_status": appointment_status,
    }


async def _appointment_of(session: AsyncSession, entry: QueueEntry) -> AppointmentView | None:
    if entry.appointment_id is None:
        return None
    return await other_domains.find_appointment(session, entry.appointment_id)


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def call_next(
    *, session: AsyncSession, actor: Actor, doctor_id: uuid.UUID
) -> tuple[State, QueueEntry]:
    queue = await _today_queue_for_update(session, actor, doctor_id, desk_too=True)
    if queue.paused:
        raise conflict(ErrorCode.queue_paused, _("The queue is paused. Resume it first."))
    current = await state(session, queue)
    if not current.ordered:
        raise conflict(ErrorCode.queue_empty, _("Nobody is waiting."))
    entry = await session.get_one(QueueEntry, current.ordered[0].id)
    await _call(session, actor, queue, entry, "call")
    await audit_entry(session, actor, "call", entry)
    return await announce(session, queue, [entry]), entry


async def recall(
    *, session: AsyncSession, actor: Actor, entry_id: uuid.UUID
) -> tuple[State, QueueEntry]:
    """Call again a patient who was called (tell them once more) or skipped."""
    queue, entry = await locked_entry(session, actor, entry_id)
    access.require_caller(actor, entry.doctor_id)
    require_status(entry, E.in_consultation, E.skipped, E.no_show, to="recall")
    if entry.status is not E.in_consultation:
        await _call(session, actor, queue, entry, "recall")
    await audit_entry(session, actor, "recall", entry)
    return await announce(session, queue, [entry], recalled=entry), entry


async def finish(
    *, session: AsyncSession, actor: Actor, entry_id: uuid.UUID
) -> tuple[State, QueueEntry]:
    """End the visit: the consultation ends, the appointment is completed, and its length
    counts towards the doctor's average."""
    queue, entry = await locked_entry(session, actor, entry_id)
    access.require_queue_doctor(actor, entry.doctor_id)
    now = clock.now()
    transition(entry, E.completed)
    entry.finished_at = now
    entry.duration_seconds = max(0, int((now - (entry.called_at or now)).total_seconds()))
    if entry.appointment_id is not None:
        await other_domains.mark_completed(session, entry.appointment_id)
    if entry.consultation_id is not None:
        await consultations.end_if_open(
            session=session, actor=actor, consultation_id=entry.consultation_id
        )
    queue.last_action = None
    await audit_entry(session, actor, "finish", entry, duration_seconds=entry.duration_seconds)
    return await announce(session, queue, [entry]), entry


async def finish_and_call_next(
    *, session: AsyncSession, actor: Actor, entry_id: uuid.UUID
) -> tuple[State, QueueEntry, QueueEntry | None]:
    """Finish the visit and call the next patient of today's queue in the same step. The
    finish stands when nobody is waiting or the queue is paused: then nobody is called
    (None)."""
    current, finished = await finish(session=session, actor=actor, entry_id=entry_id)
    try:
        async with session.begin_nested():
            current, called = await call_next(
                session=session, actor=actor, doctor_id=finished.doctor_id
            )
    except AppError as exc:
        if exc.code not in (ErrorCode.queue_empty, ErrorCode.queue_paused):
            raise
        return current, finished, None
    return current, finished, called


async def no_show(
    *, session: AsyncSession, actor: Actor, entry_id: uuid.UUID
) -> tuple[State, QueueEntry]:
    """Skip a patient who is not there: their place is kept for the grace period, after
    which they are a no-show (`expire_skipped`)."""
    queue, entry = await locked_entry(session, actor, entry_id)
    access.require_queue_doctor(actor, entry.doctor_id)
    now = clock.now()
    _remember(queue, entry, "no_show", now, None)
    was_called = entry.status is E.in_consultation
    transition(entry, E.skipped)
    entry.skipped_at = now
    if was_called:
        await _visit_not_held(session, actor, entry)
    await notifications.about_entry(session, kind=Kind.queue_missed, entry=entry)
    await audit_entry(session, actor, "no_show", entry)
    return await announce(session, queue, [entry]), entry


async def undo(
    *, session: AsyncSession, actor: Actor, doctor_id: uuid.UUID
) -> tuple[State, QueueEntry]:
    """Take back the last call or no-show, within `UNDO_SECONDS` of it."""
    queue = await _today_queue_for_update(session, actor, doctor_id)
    last = queue.last_action
    if not last or clock.now() - datetime.fromisoformat(last["at"]) > timedelta(
        seconds=UNDO_SECONDS
    ):
        raise conflict(ErrorCode.nothing_to_undo, _("There is nothing to undo any more."))
    entry = await session.get(QueueEntry, uuid.UUID(last["entry_id"]))
    assert entry is not None
    previous = EntryStatus(last["status"])
    # A skipped patient who has since taken their place back is waiting already.
    if entry.status is not previous:
        if previous in ACTIVE and entry.status not in ACTIVE:
            await require_no_other_place(session, entry)
        transition(entry, previous)
        if previous is E.in_consultation and not entry.online:
            # Back with the doctor: a new visit (the skip cancelled the one they had).
            entry.consultation_id = await other_domains.open_visit(
                session,
                actor,
                queue.doctor_id,
                entry.patient_id,
                await _appointment_of(session, entry),
            )
        else:
            await _visit_not_held(session, actor, entry)
    entry.called_at = _instant(last["called_at"])
    # Skipped again since the first skip, so the grace period ends when it would have (an
    # undo kept before `skipped_at` was has none).
    entry.skipped_at = _instant(last.get("skipped_at")) if entry.status is E.skipped else None
    queue.serving_token = last["serving_token"]
    if last["appointment_status"] and entry.appointment_id is not None:
        await other_domains.restore_status(
            session, entry.appointment_id, last["appointment_status"]
        )
    queue.last_action = None
    await audit_entry(session, actor, f"undo_{last['action']}", entry)
    return await announce(session, queue, [entry]), entry


async def set_paused(
    *, session: AsyncSession, actor: Actor, doctor_id: uuid.UUID, paused: bool
) -> State:
    queue = await _today_queue_for_update(session, actor, doctor_id)
    queue.paused = paused
    return await announce(session, queue)
