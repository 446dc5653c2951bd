"""A real server and the scheduling tests' clinic, for the guided tours."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from clinicflow.core.clock import FrozenClock
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.realtime.conftest import Server, serving
from tests.scheduling.clinic import Clinic


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[Server]:
    async with serving(app) as running:
        yield running


@pytest.fixture
def clinic(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> Clinic:
    return Clinic(client, accounts, runtime)
