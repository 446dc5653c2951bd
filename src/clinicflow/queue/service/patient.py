"""The patient's own control: "I'm ready", which the doctor sees."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.queue import access
from clinicflow.queue.models import QueueEntry
from clinicflow.queue.schemas import EntryStatus
from clinicflow.queue.service.days import locked_entry
from clinicflow.queue.service.lifecycle import require_status
from clinicflow.queue.service.queue_state import announce

E = EntryStatus


async def ready(*, session: AsyncSession, actor: Actor, entry_id: uuid.UUID) -> QueueEntry:
    """An online patient says they are at their screen; the doctor sees who is ready."""
    queue, entry = await locked_entry(session, actor, entry_id)
    access.require_entry_patient(actor, entry)
    require_status(entry, E.waiting, E.in_consultation, to="ready")
    if entry.ready_at is None:
        entry.ready_at = clock.now()
    await announce(session, queue, [entry])
    return entry
