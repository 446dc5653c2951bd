"""Staff changing the queue by hand: moving a waiting patient just before another (with a
reason), and cancelling a token whose patient has left; both audited."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.queue import access
from clinicflow.queue.models import QueueEntry
from clinicflow.queue.schemas import EntryStatus
from clinicflow.queue.service.days import locked_entry
from clinicflow.queue.service.lifecycle import audit_entry, require_status
from clinicflow.queue.service.missed import mark_no_show
from clinicflow.queue.service.queue_state import State, announce, state

E = EntryStatus


async def move(
    *,
    session: AsyncSession,
    actor: Actor,
    entry_id: uuid.UUID,
    before_entry_id: uuid.UUID,
    reason: str,
) -> tuple[State, QueueEntry]:
    """Put a waiting patient just before another, with a reason for the audit trail."""
    queue, entry = await locked_entry(session, actor, entry_id)
    access.require_queue_staff(actor, entry.doctor_id)
    target = await session.get(QueueEntry, before_entry_id)
    if target is None or target.queue_id != queue.id or target.id == entry.id:
        raise AppError(
            ErrorCode.validation_error,
            _("Choose another patient waiting in the same queue."),
            {"field": "before_entry_id"},
        )
    require_status(entry, E.waiting, to="move")
    require_status(target, E.waiting, to="move")
    # Break a circle: if the target was put (directly or through others) before this
    # entry, the one pinned to it now goes just after it instead, as this move asks.
    current = await state(session, queue)
    cursor: QueueEntry | None = target
    seen = {entry.id}
    while cursor is not None and cursor.pinned_before_id is not None:
        if cursor.pinned_before_id == entry.id:
            after = current.ordered[current.positions[entry.id] + 1 :]
            following = next((e for e in after if e.id != cursor.id), None)
            cursor.pinned_before_id = following.id if following else None
            break
        if cursor.id in seen:
            break
        seen.add(cursor.id)
        cursor = await session.get(QueueEntry, cursor.pinned_before_id)
    entry.pinned_before_id = target.id
    entry.pinned_at = clock.now()
    await audit_entry(session, actor, "move", entry, before_entry_id=str(target.id), reason=reason)
    return await announce(session, queue, [entry]), entry


async def cancel(
    *, session: AsyncSession, actor: Actor, entry_id: uuid.UUID
) -> tuple[State, QueueEntry]:
    """Cancel the token of a patient who is waiting or missed their turn and has left (or
    was given it by mistake): the place becomes `no_show`, as a missed turn does when its
    grace runs out, and its appointment is missed. There is no `cancelled` status (a new
    value of the column's CHECK would need a migration); the audit row says `cancel`. The
    patient can still be given a new token (`requeue`). The doctor's undo no longer
    reaches this place: a cancelled token must not come back by an undo of an older call."""
    queue, entry = await locked_entry(session, actor, entry_id)
    access.require_queue_staff(actor, entry.doctor_id)
    require_status(entry, E.waiting, E.skipped, to="cancel")
    await mark_no_show(session, entry)
    entry.pinned_before_id = None
    if queue.last_action and queue.last_action.get("entry_id") == str(entry.id):
        queue.last_action = None
    await audit_entry(session, actor, "cancel", entry)
    return await announce(session, queue, [entry]), entry
