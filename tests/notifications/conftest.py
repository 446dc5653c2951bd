"""Fixtures of the notification tests: the stand-in providers served on 127.0.0.1, and
dispatchers wired to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from clinicflow.config import Settings
from clinicflow.core.clock import FrozenClock
from clinicflow.notifications import channels
from clinicflow.notifications.jobs import Dispatcher
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.notifications.standins import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioStandIn
from tests.queue.clinic import QueueClinic
from tests.realtime.conftest import serving


@pytest.fixture
def twilio() -> TwilioStandIn:
    return TwilioStandIn()


@pytest.fixture
async def twilio_url(twilio: TwilioStandIn) -> AsyncIterator[str]:
    async with serving(twilio.app()) as server:
        yield server.http_url


def with_twilio(settings: Settings, url: str) -> Settings:
    return settings.model_copy(
        update={
            "twilio_base_url": url,
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": AUTH_TOKEN,
            "twilio_from": FROM_NUMBER,
        }
    )


@pytest.fixture
async def make_dispatcher(
    settings: Settings, twilio_url: str
) -> AsyncIterator[Callable[[Runtime], Dispatcher]]:
    """Dispatchers whose SMS goes to the Twilio stand-in through the real adapter."""
    made: list[tuple[Dispatcher, httpx.AsyncClient]] = []

    def make(runtime: Runtime) -> Dispatcher:
        client = httpx.AsyncClient()
        adapters = channels.build(
            with_twilio(settings, twilio_url),
            outbox=None,
            client=client,
            resolver=runtime.resolver,
        )
        dispatcher = Dispatcher(runtime, adapters)
        made.append((dispatcher, client))
        return dispatcher

    yield make
    for dispatcher, client in made:
        await dispatcher.close()
        await client.aclose()


@pytest.fixture
def dispatcher(runtime: Runtime, make_dispatcher: Callable[[Runtime], Dispatcher]) -> Dispatcher:
    return make_dispatcher(runtime)


@pytest.fixture
def clinic(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> QueueClinic:
    """The queue tests' clinic (a Nairobi doctor's week, the clock on Monday noon there)."""
    return QueueClinic(client, accounts, runtime)
