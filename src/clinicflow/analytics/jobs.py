"""Worker jobs of analytics: the daily roll-up of closed clinic days."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.analytics import service as analytics
from clinicflow.clinic import service as clinic
from clinicflow.runtime import Runtime

# Hourly: the first run after midnight closes yesterday; later runs re-roll the last days
# (idempotent), which picks up patients seen after midnight and late corrections.
ROLL_UP_SECONDS = 3600.0


async def roll_up(runtime: Runtime, session: AsyncSession) -> None:
    profile = await clinic.current(session=session, defaults=runtime.settings)
    await analytics.roll_up_recent(session=session, clinic=profile)
