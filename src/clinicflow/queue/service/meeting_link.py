"""The doctor's meeting link: who may set it, and telling the next waiting patients."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import realtime
from clinicflow.clinic import service as clinic
from clinicflow.core import audit
from clinicflow.core.audit import Actor
from clinicflow.notifications import service as notifications
from clinicflow.notifications.service import Kind
from clinicflow.queue import access
from clinicflow.queue.models import QueueEntry
from clinicflow.queue.service import other_domains
from clinicflow.queue.service.days import get_queue
from clinicflow.queue.service.queue_state import entries_of, state

MEET_LINK_TOLD = 10


async def set_meet_link(
    *,
    session: AsyncSession,
    actor: Actor,
    doctor_id: uuid.UUID,
    meet_url: str | None,
) -> list[QueueEntry]:
    """Change the doctor's link; during a session the next waiting patients are told the
    new one. Answers the entries told."""
    access.require_meet_link_editor(actor, doctor_id)
    if not await other_domains.set_doctor_meet_url(session, doctor_id, meet_url):
        return []
    await audit.record(
        session,
        action="doctor.meet_link_changed",
        resource_type="user",
        resource_id=doctor_id,
        actor=actor,
    )
    queue = await get_queue(
        session, doctor_id, await other_domains.doctor_today(session, doctor_id)
    )
    if queue is None or meet_url is None:
        return []
    told = await entries_of(session, (await state(session, queue)).ordered[:MEET_LINK_TOLD])
    # The text leads to the waiting room, never to the live room itself: the room opens there
    # for the patient who has been called (issue 18).
    waiting_room = f"{(await clinic.current(session=session)).public_url}/queue"
    for entry in told:
        await realtime.publish_to_user(
            session,
            entry.patient_id,
            type="queue.meet_link",
            # Not the link itself: a waiting patient's page must never hold the doctor's live
            # room; a called one reads it from GET /api/queue/me.
            data={"doctor_id": str(doctor_id), "entry_id": str(entry.id)},
        )
        await notifications.about_entry(
            session, kind=Kind.meeting_link, entry=entry, link=waiting_room
        )
    return told
