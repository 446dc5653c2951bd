"""The worker's side of realtime: forgetting per-user events past their retention."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.realtime import user_events
from clinicflow.runtime import Runtime

PRUNE_SECONDS = user_events.PRUNE_SECONDS


async def prune_user_events(runtime: Runtime, session: AsyncSession) -> None:
    """Delete `user:<id>` events older than `user_events.RETENTION` (the log is for
    pages that lost their socket for a while, not a history)."""
    await user_events.prune(session)
