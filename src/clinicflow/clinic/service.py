"""Reading the clinic's settings.

Until an admin saves them, the clinic is what the environment says (`Settings`): a fresh
install starts from those values.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic.schemas import ClinicProfile
from clinicflow.config import Settings


def from_environment(defaults: Settings) -> ClinicProfile:
    """The clinic a fresh install starts as."""
    return ClinicProfile(
        name=defaults.clinic_name,
        address=defaults.clinic_address,
        phone=defaults.clinic_phone,
        timezone=defaults.clinic_timezone,
        public_url=defaults.public_url,
        notification_channels=tuple(defaults.notification_channels),
        hold_minutes=defaults.hold_minutes,
        cancellation_window_minutes=defaults.cancellation_window_minutes,
    )


async def current(*, session: AsyncSession, defaults: Settings) -> ClinicProfile:
    """The clinic's settings now: the saved version, or the environment's until one is saved."""
    del session  # the stored settings arrive with the settings page
    return from_environment(defaults)
