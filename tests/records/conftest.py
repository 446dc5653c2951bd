"""Fixtures of the records tests."""

from __future__ import annotations

import httpx
import pytest

from clinicflow.config import Settings
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.records.clinic import RecordsClinic


@pytest.fixture
def clinic(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, settings: Settings
) -> RecordsClinic:
    return RecordsClinic(client, accounts, runtime, settings)
