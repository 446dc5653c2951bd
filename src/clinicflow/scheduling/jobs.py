"""Scheduling's periodic work, run by `clinicflow.worker`: passing lapsed waitlist offers on,
and the appointment reminders.

Reminders are computed from the database on every run (appointments starting within the
next day or hour that have no reminder yet), so a restarted worker sends what fell due
while it was down, and the reminder's `dedupe_key` makes two workers send it once.
Scheduling owns the appointments, so it finds the ones due and asks notifications to tell
their patients; notifications never looks appointments up.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.notifications import service as notifications
from clinicflow.runtime import Runtime
from clinicflow.scheduling import service as scheduling

# An offer is held for 15 minutes; passing it on up to half a minute late costs the next
# patient little, and checking more often would only take the SQLite write lock for nothing.
WAITLIST_SWEEP_SECONDS = 30.0

REMINDER_SWEEP_SECONDS = 60.0
# (type, how long before the start it is due, until how long before the start it is sent):
# a reminder a day ahead is pointless once the hour's reminder is due.
REMINDERS = (
    (notifications.Kind.reminder_24h, timedelta(hours=24), timedelta(hours=1)),
    (notifications.Kind.reminder_1h, timedelta(hours=1), timedelta(0)),
)


async def pass_on_lapsed_offers(runtime: Runtime, session: AsyncSession) -> None:
    """Offer each slot whose waitlist offer ran out unbooked to the next waiting patient."""
    await scheduling.pass_on_lapsed_offers(session=session, settings=runtime.settings)


async def send_reminders(runtime: Runtime, session: AsyncSession) -> None:
    """Write the reminders now due; one run's worth is one transaction."""
    await send_due_reminders(session=session)


async def send_due_reminders(*, session: AsyncSession) -> int:
    """A reminder `before` an appointment is due once the appointment is that close, if it
    was booked earlier than that (nobody booked an hour ahead wants "tomorrow")."""
    sent = 0
    now = clock.now()
    for kind, before, until in REMINDERS:
        for appointment in await scheduling.booked_starting_between(
            session=session, start=now + until, end=now + before
        ):
            if appointment.created_at > appointment.starts_at - before:
                continue
            if await notifications.about_appointment(
                session,
                kind=kind,
                appointment=appointment,
                dedupe_key=f"{kind.value}:{appointment.id}",
            ):
                sent += 1
    return sent
