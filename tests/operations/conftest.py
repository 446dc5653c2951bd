"""Fixtures of the operations tests."""

from __future__ import annotations

import httpx
import pytest

from clinicflow.core.clock import FrozenClock
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.queue.clinic import QueueClinic


@pytest.fixture
def clinic(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> QueueClinic:
    return QueueClinic(client, accounts, runtime)
