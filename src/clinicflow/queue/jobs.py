"""The queue's periodic work for `clinicflow.worker`: missed turns and absent doctors."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.queue import events
from clinicflow.queue import service as queues
from clinicflow.queue.models import Queue
from clinicflow.realtime.broker import Broker
from clinicflow.runtime import Runtime

SWEEP_SECONDS = 15.0
AWAY_AFTER = timedelta(minutes=2)


async def expire_skipped(runtime: Runtime, session: AsyncSession) -> None:
    await queues.expire_skipped(session=session)


async def present_doctors(session: AsyncSession, broker: Broker) -> set[tuple[uuid.UUID, date]]:
    """The (doctor, day) queues of these days whose doctor has a socket on them now."""
    today = clock.now().date()
    rows = await session.execute(
        select(Queue.doctor_id, Queue.day).where(
            Queue.day.between(today - timedelta(days=1), today + timedelta(days=1))
        )
    )
    present = set()
    for doctor_id, day in rows:
        if str(doctor_id) in await broker.presence.users(events.presence_topic(doctor_id, day)):
            present.add((doctor_id, day))
    return present


async def mark_doctors_away(runtime: Runtime, session: AsyncSession) -> None:
    present = await present_doctors(session, runtime.broker)
    await queues.mark_doctors_away(session=session, present=present, away_after=AWAY_AFTER)
