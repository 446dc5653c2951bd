"""Fixtures of the sync tests: the queue tests' clinic (Monday 2026-03-02, 12:00 Nairobi)."""

from __future__ import annotations

import httpx
import pytest

from clinicflow.core.clock import FrozenClock
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.sync.clinic import SyncClinic


@pytest.fixture
async def clinic(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> SyncClinic:
    """The check-in window is the desk's too (issue 18): these tests check the afternoon's
    appointments in at 09:00 UTC, so the window is widened for all of them."""
    clinic = SyncClinic(client, accounts, runtime)
    await clinic.open_check_in_early()
    return clinic
