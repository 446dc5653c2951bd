"""Fixtures of the scheduling tests."""

from __future__ import annotations

import httpx
import pytest

from clinicflow.core.clock import FrozenClock
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.scheduling.clinic import Clinic


@pytest.fixture
def clinic(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> Clinic:
    return Clinic(client, accounts, runtime)
