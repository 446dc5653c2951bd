"""The `availability:<doctor_id>` topic for the realtime hub.

Events on it, all ephemeral (`seq` null):

- `availability.snapshot`, sent on (re)subscribing: the doctor's free slots from now over
  the next `max_slot_range_days` days, in the shape of `GET /api/doctors/{id}/slots`
  (`{"timezone", "slots": [{"starts_at", "ends_at"}]}`).
- `availability.changed`, once the transaction that changed it commits: one slot was
  taken or freed (`{"doctor_id", "starts_at", "ends_at", "free"}`), or the doctor's whole
  week changed (`{"doctor_id", "schedule": true}`). The service publishes it through
  `service.announcements.announce`.

A hold that simply runs out is announced by nobody (no transaction ends it); a follower
sees that slot free again on its next refresh or snapshot.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import realtime
from clinicflow.config import Settings
from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.identity import service as identity
from clinicflow.scheduling import schemas
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.service.announcements import KIND, topic

SNAPSHOT = "availability.snapshot"


def _doctor_id(key: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(key)
    except ValueError:
        return None


class AvailabilityTopic:
    """Followed by anyone signed in, as anyone may read a doctor's free slots; a missing or
    inactive doctor answers the same False. A (re)subscriber gets a snapshot, then changes."""

    kind = KIND

    def __init__(self, *, settings: Settings) -> None:
        self._settings = settings

    async def authorize(self, *, session: AsyncSession, user: Actor, key: str) -> bool:
        doctor_id = _doctor_id(key)
        if doctor_id is None:
            return False
        try:
            await identity.get_doctor(session, doctor_id)
        except AppError as exc:
            if exc.code is ErrorCode.not_found:
                return False
            raise
        return True

    async def replay(
        self, *, session: AsyncSession, user: Actor, key: str, since: int | None, limit: int
    ) -> list[realtime.Event]:
        doctor_id = _doctor_id(key)
        if doctor_id is None:
            return []
        now = clock.now()
        timezone, free = await scheduling.free_slots(
            session=session,
            settings=self._settings,
            doctor_id=doctor_id,
            start=now,
            end=now + timedelta(days=self._settings.max_slot_range_days),
        )
        snapshot = schemas.SlotsOut(
            timezone=timezone,
            slots=[schemas.SlotOut(starts_at=a, ends_at=b) for a, b in free],
        )
        return [
            realtime.Event(
                topic=topic(doctor_id), type=SNAPSHOT, data=snapshot.model_dump(mode="json")
            )
        ]
