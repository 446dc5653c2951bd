"""Reading queues: what each actor may see of one (names for staff, only their own places for
a patient), a patient's places today, the public board, and who may follow a queue's topic."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import not_found
from clinicflow.identity import service as identity
from clinicflow.queue import access, schemas
from clinicflow.queue.models import Queue, QueueEntry, Reassignment
from clinicflow.queue.schemas import EntryStatus
from clinicflow.queue.service import other_domains
from clinicflow.queue.service.days import get_queue
from clinicflow.queue.service.queue_state import State, not_opened, state

E = EntryStatus


async def queue_for(
    *, session: AsyncSession, actor: Actor, doctor_id: uuid.UUID, day: date | None
) -> tuple[State, list[QueueEntry]]:
    """The queue as this actor may see it, with the entries they may see: every entry of
    the day for the desk and the doctor, the patient's own for a patient in it."""
    await identity.get_doctor(session, doctor_id)
    day = day or await other_domains.doctor_today(session, doctor_id)
    queue = await get_queue(session, doctor_id, day)
    staff = access.sees_whole_queue(actor, doctor_id)
    if queue is None:
        if not staff:
            raise not_found()
        return await not_opened(session, doctor_id, day), []
    query = select(QueueEntry).where(QueueEntry.queue_id == queue.id)
    if not staff:
        query = query.where(QueueEntry.patient_id == actor.id)
    entries = list(await session.scalars(query.order_by(QueueEntry.token)))
    if not staff and not entries:
        raise not_found()
    return await state(session, queue), entries


async def patient_name(session: AsyncSession, entry: QueueEntry) -> str | None:
    return (await identity.names(session, [entry.patient_id])).get(entry.patient_id)


async def visible_names(
    session: AsyncSession, actor: Actor, doctor_id: uuid.UUID, entries: Sequence[QueueEntry]
) -> dict[uuid.UUID, str]:
    """Patients' names for staff of the queue; none for a patient (not even their own,
    which they know)."""
    if not access.sees_whole_queue(actor, doctor_id):
        return {}
    return await identity.names(session, {e.patient_id for e in entries})


async def my_places(*, session: AsyncSession, actor: Actor) -> list[schemas.MyEntryOut]:
    """The patient's places in today's queues with each queue's state, newest first."""
    places = await my_entries(session=session, actor=actor)
    doctors = {d.id: d for d in await identity.users(session, {e.doctor_id for _s, e in places})}
    answer = []
    for current, entry in places:
        doctor = doctors[entry.doctor_id]
        consultation_url = await meeting_link_for(session=session, actor=actor, entry=entry)
        answer.append(
            schemas.MyEntryOut(
                **current.entry(entry).model_dump(),
                doctor_name=doctor.name,
                serving_token=current.queue.serving_token,
                waiting_count=current.waiting_count,
                paused=current.queue.paused,
                doctor_away=current.queue.doctor_away,
                meet_url=consultation_url,
            )
        )
    return answer


async def meeting_link_for(*, session: AsyncSession, actor: Actor, entry: QueueEntry) -> str | None:
    """The meeting link the patient of `entry` may see: their consultation's (copied from
    the doctor's at the call), and only once they have been called. A patient still waiting,
    even among the next 10, never gets the doctor's live room, where someone else may be."""
    if entry.status is not E.in_consultation or entry.consultation_id is None:
        return None
    return await other_domains.consultation_meet_url(session, actor, entry.consultation_id)


async def my_entries(*, session: AsyncSession, actor: Actor) -> list[tuple[State, QueueEntry]]:
    """The patient's places in today's queues (yesterday's and tomorrow's dates are looked
    at too, as "today" is each doctor's own), newest first."""
    today = clock.now().date()
    entries = list(
        await session.scalars(
            select(QueueEntry)
            .where(
                QueueEntry.patient_id == actor.id,
                QueueEntry.day.between(today - timedelta(days=1), today + timedelta(days=1)),
            )
            .order_by(QueueEntry.joined_at.desc())
        )
    )
    answer: list[tuple[State, QueueEntry]] = []
    states: dict[uuid.UUID, State] = {}
    for entry in entries:
        if entry.queue_id not in states:
            queue = await session.get(Queue, entry.queue_id)
            assert queue is not None
            await identity.get_doctor(session, queue.doctor_id)
            if queue.day != await other_domains.doctor_today(session, queue.doctor_id):
                continue
            states[entry.queue_id] = await state(session, queue)
        answer.append((states[entry.queue_id], entry))
    return answer


async def board(session: AsyncSession) -> list[schemas.BoardRowOut]:
    """Every active doctor's queue of their today, for the waiting-room screen: numbers and
    the doctor's name only."""
    answer = []
    for doctor in await identity.search_doctors(session):
        queue = await get_queue(
            session, doctor.id, await other_domains.doctor_today(session, doctor.id)
        )
        if queue is None:
            continue
        current = await state(session, queue)
        answer.append(
            schemas.BoardRowOut(
                doctor_id=doctor.id,
                doctor_name=doctor.name,
                date=queue.day,
                revision=queue.revision,
                serving_token=queue.serving_token,
                waiting_count=current.waiting_count,
                paused=queue.paused,
                doctor_away=queue.doctor_away,
            )
        )
    return answer


def queue_out(
    current: State, entries: Sequence[QueueEntry], names: dict[uuid.UUID, str]
) -> schemas.QueueOut:
    """The queue's answer shape: its public state and the entries given, named from `names`."""
    return schemas.QueueOut(
        **current.public(), entries=[current.entry(e, names.get(e.patient_id)) for e in entries]
    )


async def snapshot_for(
    session: AsyncSession, actor: Actor, doctor_id: uuid.UUID, day: date
) -> dict[str, Any]:
    """What a follower sees on (re)subscribing: the public state, with the whole list for
    staff and the patient's own places (token, position, estimate) for a patient."""
    queue = await get_queue(session, doctor_id, day)
    if queue is None:
        current = await not_opened(session, doctor_id, day)
        entries: list[QueueEntry] = []
    else:
        current = await state(session, queue)
        query = select(QueueEntry).where(QueueEntry.queue_id == queue.id)
        if not access.sees_whole_queue(actor, doctor_id):
            query = query.where(QueueEntry.patient_id == actor.id)
        entries = list(await session.scalars(query.order_by(QueueEntry.token)))
    names = await identity.names(session, {e.patient_id for e in entries})
    data = current.public()
    staff = access.sees_whole_queue(actor, doctor_id)
    data["entries"] = [
        current.entry(e, names.get(e.patient_id) if staff else None).model_dump(mode="json")
        for e in entries
    ]
    return data


async def reassignments(
    *, session: AsyncSession, actor: Actor, entry_id: uuid.UUID
) -> list[Reassignment]:
    """Every new token this visit was given, oldest first (across the chain of entries)."""
    entry = await access.get_entry_for(session, actor, entry_id)
    query = select(Reassignment).join(QueueEntry, Reassignment.new_entry_id == QueueEntry.id)
    if entry.appointment_id is not None:
        query = query.where(Reassignment.appointment_id == entry.appointment_id)
    else:
        query = query.where(
            Reassignment.patient_id == entry.patient_id,
            QueueEntry.queue_id == entry.queue_id,
        )
    return list(await session.scalars(query.order_by(Reassignment.at)))


async def has_place_with(
    session: AsyncSession, *, doctor_id: uuid.UUID, patient_id: uuid.UUID
) -> bool:
    """Whether the patient has a place in the doctor's queue today (in any status: the desk
    registered them for this doctor) or had one the doctor finished, on any day: the
    queue's part of the care relation that opens a record to a doctor (records'
    `has_care_relation`, handed this function by the runtime)."""
    today = await other_domains.doctor_today(session, doctor_id)
    found = await session.scalar(
        select(QueueEntry.id)
        .where(
            QueueEntry.doctor_id == doctor_id,
            QueueEntry.patient_id == patient_id,
            (QueueEntry.day == today) | (QueueEntry.status == E.completed),
        )
        .limit(1)
    )
    return found is not None
