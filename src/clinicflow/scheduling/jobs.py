"""Scheduling's periodic work, run by `clinicflow.worker`: passing lapsed waitlist offers on,
and the appointment reminders.

Reminders are computed from the database on every run (appointments starting within the
clinic's reminder times that have no reminder yet), so a restarted worker sends what fell due
while it was down, and the reminder's `dedupe_key` makes two workers send it once.
Scheduling owns the appointments, so it finds the ones due and asks notifications to tell
their patients; notifications never looks appointments up.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic import service as clinic
from clinicflow.core import clock
from clinicflow.notifications import service as notifications
from clinicflow.runtime import Runtime
from clinicflow.scheduling import service as scheduling

# An offer is held for 15 minutes; passing it on up to half a minute late costs the next
# patient little, and checking more often would only take the SQLite write lock for nothing.
WAITLIST_SWEEP_SECONDS = 30.0

REMINDER_SWEEP_SECONDS = 60.0
# A reminder this close to the start reads "at 09:00, check in when you arrive"; an earlier
# one reads "on Thursday 5 March at 09:00".
SAME_DAY = timedelta(hours=12)
# The two reminders a fresh clinic sends keep the keys they always had, so changing the
# code does not send anyone a reminder they already got.
STANDARD = {
    notifications.Kind.reminder_24h: timedelta(hours=24),
    notifications.Kind.reminder_1h: timedelta(hours=1),
}


@dataclass(frozen=True)
class Reminder:
    kind: notifications.Kind
    before: timedelta  # due once the appointment is this close
    until: timedelta  # and sent until the next, closer reminder is due

    def key(self, appointment_id: uuid.UUID) -> str:
        if STANDARD[self.kind] == self.before:
            return f"{self.kind.value}:{appointment_id}"
        return f"{self.kind.value}:{int(self.before.total_seconds()) // 60}m:{appointment_id}"


def reminders(minutes: Sequence[int]) -> list[Reminder]:
    """The clinic's reminder times as reminders, furthest first: each is sent until the next
    one is due, since a day-ahead reminder is pointless once the hour's is due."""
    befores = sorted({timedelta(minutes=value) for value in minutes if value > 0}, reverse=True)
    return [
        Reminder(
            kind=notifications.Kind.reminder_1h
            if before <= SAME_DAY
            else notifications.Kind.reminder_24h,
            before=before,
            until=befores[index + 1] if index + 1 < len(befores) else timedelta(0),
        )
        for index, before in enumerate(befores)
    ]


async def pass_on_lapsed_offers(runtime: Runtime, session: AsyncSession) -> None:
    """Offer each slot whose waitlist offer ran out unbooked to the next waiting patient."""
    await scheduling.pass_on_lapsed_offers(session=session, settings=runtime.settings)


async def send_reminders(runtime: Runtime, session: AsyncSession) -> None:
    """Write the reminders now due; one run's worth is one transaction."""
    await send_due_reminders(session=session)


async def send_due_reminders(*, session: AsyncSession) -> int:
    """A reminder `before` an appointment is due once the appointment is that close, if it
    was booked earlier than that (nobody booked an hour ahead wants "tomorrow"). The times
    are the clinic's (`reminder_minutes`)."""
    sent = 0
    now = clock.now()
    profile = await clinic.current(session=session)
    for reminder in reminders(profile.reminder_minutes):
        for appointment in await scheduling.booked_starting_between(
            session=session, start=now + reminder.until, end=now + reminder.before
        ):
            if appointment.created_at > appointment.starts_at - reminder.before:
                continue
            if await notifications.about_appointment(
                session,
                kind=reminder.kind,
                appointment=appointment,
                dedupe_key=reminder.key(appointment.id),
            ):
                sent += 1
    return sent
