"""The worker's heartbeat: a row per worker process, touched by one of its periodic jobs.

`/health/ready` reads the newest row, so a load balancer (or an operator) learns that no
worker runs whether the jobs run embedded in a web process or in `clinicflow worker`, on
SQLite or PostgreSQL alike, without Redis. A row is written by the job runner, so a worker
whose job loop hangs stops beating, which is the point.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import String, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from clinicflow.core import clock
from clinicflow.db import Base

# How often a worker beats; `/health/ready` allows a few missed beats (a slow job in between).
BEAT_SECONDS = 15.0
# Rows of processes gone this long are removed by the next beat of any worker.
FORGET_AFTER = timedelta(days=1)


class WorkerHeartbeat(Base):
    """When a worker process (host:pid) last ran its job loop."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[datetime]


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


async def beat(session: AsyncSession, *, name: str | None = None) -> None:
    """Record that this worker is alive, and forget workers long gone."""
    name = name or process_name()
    now = clock.now()
    row = await session.get(WorkerHeartbeat, name)
    if row is None:
        session.add(WorkerHeartbeat(name=name, seen_at=now))
    else:
        row.seen_at = now
    await session.execute(
        delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < now - FORGET_AFTER)
    )


async def last_seen(session: AsyncSession) -> datetime | None:
    """When any worker last beat, or None if none ever did."""
    # max() keeps the column's type, so SQLite's naive storage comes back in UTC too.
    latest: datetime | None = await session.scalar(select(func.max(WorkerHeartbeat.seen_at)))
    return latest
