"""Fixtures of the sync tests: the queue tests' clinic (Monday 2026-03-02, 12:00 Nairobi)."""

from __future__ import annotations

import httpx
import pytest

from clinicflow.core.clock import FrozenClock
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.sync.clinic import SyncClinic


@pytest.fixture
def clinic(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> SyncClinic:
    return SyncClinic(client, accounts, runtime)
