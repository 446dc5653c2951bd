"""The daily roll-up: closed clinic days written once to `analytics_daily`.

Rolling a day replaces whatever was stored for it (delete then insert, in the caller's
transaction), so re-running a day, or two workers rolling it at once, leaves one copy.
The job re-rolls the last few closed days on every run: a patient who joined before
midnight and was seen after it changes the day they joined, and so does a late correction.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.analytics.models import DailyFigures, RolledDay
from clinicflow.analytics.service.days import today
from clinicflow.analytics.service.figures import compute_day
from clinicflow.clinic.schemas import ClinicProfile
from clinicflow.core import clock

# Closed days re-rolled on every run of the job.
REROLL_DAYS = 3


async def roll_up_day(*, session: AsyncSession, clinic: ClinicProfile, day: date) -> int:
    """Store one closed clinic day (it must be before today); answers the rows written."""
    if day >= today(clinic.zone):
        raise ValueError(f"{day} is not closed yet")
    figures, deliveries = await compute_day(
        session=session,
        day=day,
        zone=clinic.zone,
        late_within_minutes=clinic.cancellation_window_minutes,
    )
    await session.execute(delete(DailyFigures).where(DailyFigures.day == day))
    await session.execute(delete(RolledDay).where(RolledDay.day == day))
    if figures:
        await session.execute(insert(DailyFigures), [f.row() for f in figures])
    await session.execute(
        insert(RolledDay).values(day=day, deliveries=deliveries, rolled_at=clock.now())
    )
    return len(figures)


async def roll_up_recent(
    *, session: AsyncSession, clinic: ClinicProfile, back: int = REROLL_DAYS
) -> list[date]:
    """Roll the last `back` closed days (yesterday and before); answers the days rolled."""
    last = today(clinic.zone) - timedelta(days=1)
    rolled = [last - timedelta(days=n) for n in range(back)]
    for day in rolled:
        await roll_up_day(session=session, clinic=clinic, day=day)
    return rolled
