"""What other domains call when something happened that a patient must hear about: a
booking, a place in a queue, a consultation's news, a doctor's chat message.

Each takes the other domain's record through a small protocol (`AppointmentLike`,
`EntryLike`, `ConsultationLike`), so notifications reads those records without importing
the domains that own them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import realtime
from clinicflow.core import clock
from clinicflow.identity import service as identity
from clinicflow.notifications.models import Notification
from clinicflow.notifications.schemas import Kind
from clinicflow.notifications.service.writing import notify

# A doctor's messages to a patient who is away make one notification in this long, while
# the patient has not read it (`chat_messages`).
CHAT_COALESCE = timedelta(minutes=30)


class AppointmentLike(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def patient_id(self) -> uuid.UUID: ...
    @property
    def doctor_id(self) -> uuid.UUID: ...
    @property
    def starts_at(self) -> datetime: ...


class ConsultationLike(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def patient_id(self) -> uuid.UUID: ...
    @property
    def doctor_id(self) -> uuid.UUID: ...


async def _doctor(session: AsyncSession, doctor_id: uuid.UUID) -> str:
    found = await identity.users(session, [doctor_id])
    return found[0].name if found else ""


async def about_appointment(
    session: AsyncSession,
    *,
    kind: Kind,
    appointment: AppointmentLike,
    dedupe_key: str | None = None,
) -> Notification | None:
    """A booking's notification, with the time on the clinic's clock in the patient's
    language (`notify` writes it)."""
    name = await _doctor(session, appointment.doctor_id)
    return await notify(
        session,
        user_id=appointment.patient_id,
        kind=kind,
        values={"doctor": name},
        times={"when": appointment.starts_at},
        appointment_id=appointment.id,
        dedupe_key=dedupe_key,
    )


class EntryLike(Protocol):
    """A place in a queue, as the queue domain holds it."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def patient_id(self) -> uuid.UUID: ...
    @property
    def doctor_id(self) -> uuid.UUID: ...
    @property
    def token(self) -> int: ...
    @property
    def appointment_id(self) -> uuid.UUID | None: ...


async def about_entry(
    session: AsyncSession,
    *,
    kind: Kind,
    entry: EntryLike,
    position: int | None = None,
    link: str | None = None,
    dedupe_key: str | None = None,
) -> Notification | None:
    """A queue notification to the patient holding `entry`."""
    name = await _doctor(session, entry.doctor_id)
    values = {
        "doctor": name,
        "token": str(entry.token),
        "position": str(position or ""),
        "link": link or "",
    }
    return await notify(
        session,
        user_id=entry.patient_id,
        kind=kind,
        values=values,
        appointment_id=entry.appointment_id,
        dedupe_key=dedupe_key,
    )


async def about_entries(session: AsyncSession, *, kind: Kind, entries: Sequence[EntryLike]) -> None:
    for entry in entries:
        await about_entry(session, kind=kind, entry=entry)


CONSULTATION_EVENTS = {
    "accepted": Kind.consult_accepted,
    "declined": Kind.consult_declined,
    "ended": Kind.consult_ended,
}


async def about_consultation(
    session: AsyncSession, *, event: str, consultation: ConsultationLike
) -> Notification | None:
    """Tell the patient their consultation was accepted, declined or ended; other changes
    of its status are not news to them."""
    kind = CONSULTATION_EVENTS.get(event)
    if kind is None:
        return None
    name = await _doctor(session, consultation.doctor_id)
    return await notify(
        session,
        user_id=consultation.patient_id,
        kind=kind,
        values={"doctor": name},
        consultation_id=consultation.id,
    )


async def _not_told_lately(
    session: AsyncSession, away: list[tuple[ConsultationLike, uuid.UUID]]
) -> list[tuple[ConsultationLike, uuid.UUID]]:
    """Leave out a consultation whose patient still has an unread chat notification about
    it from the last `CHAT_COALESCE`: a doctor who writes five short messages in a row
    makes one notification (one SMS, one push), not five. Once it is read, or older, the
    next message tells them again."""
    if not away:
        return away
    told = set(
        await session.scalars(
            select(Notification.consultation_id).where(
                Notification.kind == Kind.chat_message,
                Notification.consultation_id.in_([consultation.id for consultation, _ in away]),
                Notification.read_at.is_(None),
                Notification.created_at > clock.now() - CHAT_COALESCE,
            )
        )
    )
    return [(consultation, sender) for consultation, sender in away if consultation.id not in told]


async def chat_messages(
    session: AsyncSession, *, sent: Mapping[uuid.UUID, tuple[ConsultationLike, uuid.UUID]]
) -> list[Notification]:
    """Doctors' messages, by consultation (consultation, sender), for patients who are not
    looking at the consultation (no socket of theirs on its presence topic): one who is
    reads them there and needs no notification. One presence look-up for them all: a
    batch of sends holds its consultations' rows while this runs."""
    waiting = {
        f"presence:{consultation.id}": (consultation, sender_id)
        for consultation, sender_id in sent.values()
        if sender_id != consultation.patient_id
    }
    if not waiting:
        return []
    present = await realtime.present_users_of(session, waiting)
    away = [
        (consultation, sender_id)
        for topic, (consultation, sender_id) in waiting.items()
        if str(consultation.patient_id) not in present[topic]
    ]
    away = await _not_told_lately(session, away)
    names = await identity.names(session, {sender_id for _, sender_id in away})
    told = [
        await notify(
            session,
            user_id=consultation.patient_id,
            kind=Kind.chat_message,
            values={"sender": names.get(sender_id, "")},
            consultation_id=consultation.id,
        )
        for consultation, sender_id in away
    ]
    return [notification for notification in told if notification is not None]
