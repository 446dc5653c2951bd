"""Calendar files: one appointment as .ics, and each user's private feed URL.

Only a hash of a feed's secret is stored; the URL is the secret, so a new feed replaces the
old one and revoking deletes it. What goes into a calendar is decided by `scheduling.ical`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock, security
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.scheduling import access, ical
from clinicflow.scheduling.models import Appointment, CalendarFeed

FEED_HISTORY = timedelta(days=30)


async def _calendar_entries(
    session: AsyncSession, appointments: Sequence[Appointment], viewer_id: uuid.UUID
) -> list[ical.CalendarEntry]:
    """Each entry is titled with the other person: the doctor for a patient, and so on."""
    people = await identity.names(
        session, {a.doctor_id for a in appointments} | {a.patient_id for a in appointments}
    )

    def title(appointment: Appointment) -> str:
        if viewer_id == appointment.patient_id:
            return f"clinicflow: {people.get(appointment.doctor_id, '')}"
        if viewer_id == appointment.doctor_id:
            return f"clinicflow: {people.get(appointment.patient_id, '')}"
        return (
            f"clinicflow: {people.get(appointment.doctor_id, '')}"
            f" – {people.get(appointment.patient_id, '')}"
        )

    return [
        ical.CalendarEntry(
            uid=f"{a.id}@clinicflow",
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            title=title(a),
            mode=a.mode,
            status=a.status,
            updated_at=a.updated_at,
        )
        for a in appointments
    ]


async def appointment_ics(
    *, session: AsyncSession, actor: Actor, appointment_id: uuid.UUID
) -> bytes:
    appointment = await access.get_appointment_for(session, actor, appointment_id)
    entries = await _calendar_entries(session, [appointment], actor.id)
    return ical.render(entries, name="clinicflow")


async def create_calendar_feed(*, session: AsyncSession, actor: Actor) -> str:
    """A new private feed token for the actor; any earlier feed URL stops working."""
    await session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == actor.id))
    token = security.new_opaque_token()
    session.add(
        CalendarFeed(
            user_id=actor.id, token_hash=security.hash_token(token), created_at=clock.now()
        )
    )
    await session.flush()
    return token


async def revoke_calendar_feed(*, session: AsyncSession, actor: Actor) -> None:
    await session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == actor.id))


async def calendar_feed(*, session: AsyncSession, token: str) -> bytes:
    """The feed behind a secret URL: the owner's appointments from a month ago onwards."""
    feed = await session.scalar(
        select(CalendarFeed).where(CalendarFeed.token_hash == security.hash_token(token))
    )
    if feed is None or not await identity.is_active(session, feed.user_id):
        raise AppError(ErrorCode.not_found, _("Not found."))
    owner = feed.user_id
    appointments = list(
        await session.scalars(
            select(Appointment)
            .where(
                or_(Appointment.patient_id == owner, Appointment.doctor_id == owner),
                Appointment.starts_at >= clock.now() - FEED_HISTORY,
            )
            .order_by(Appointment.starts_at)
        )
    )
    entries = await _calendar_entries(session, appointments, owner)
    return ical.render(entries, name="clinicflow")
