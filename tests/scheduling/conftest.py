"""Fixtures of the scheduling tests."""

from __future__ import annotations

import httpx
import pytest

from clinicflow.core.clock import FrozenClock
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from clinicflow.scheduling import service as scheduling
from tests.factories import Accounts
from tests.scheduling.clinic import Clinic
from tests.scheduling.waitlist_cases import Waitlist


@pytest.fixture
def clinic(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> Clinic:
    return Clinic(client, accounts, runtime)


@pytest.fixture
async def doctor(accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock) -> User:
    """A Nairobi doctor working 08:00–12:00 and 14:00–18:00 on weekdays, in 15-minute slots."""
    user = await accounts.make(
        Role.doctor, name="Dr. Amani Otieno", profile={"timezone": "Africa/Nairobi"}
    )
    async with runtime.transaction() as session:
        await scheduling.set_availability(
            session=session,
            actor=user,
            doctor_id=user.id,
            timezone="Africa/Nairobi",
            slot_minutes=15,
            weekly={
                day: [("08:00", "12:00"), ("14:00", "18:00")]
                for day in ("mon", "tue", "wed", "thu", "fri")
            },
            exceptions=[],
        )
    return user


@pytest.fixture
async def waitlist(clinic: Clinic, frozen_clock: FrozenClock) -> Waitlist:
    """A clinic with one doctor, and the calls the waitlist tests make."""
    doctor, _ = await clinic.doctor()
    return Waitlist(clinic, doctor, frozen_clock)
