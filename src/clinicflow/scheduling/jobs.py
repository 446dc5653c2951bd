"""Scheduling's periodic work, run by `clinicflow.worker`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.runtime import Runtime
from clinicflow.scheduling import service as scheduling

# An offer is held for 15 minutes; passing it on up to half a minute late costs the next
# patient little, and checking more often would only take the SQLite write lock for nothing.
WAITLIST_SWEEP_SECONDS = 30.0


async def pass_on_lapsed_offers(runtime: Runtime, session: AsyncSession) -> None:
    """Offer each slot whose waitlist offer ran out unbooked to the next waiting patient."""
    await scheduling.pass_on_lapsed_offers(session=session, settings=runtime.settings)
