"""A `clinicflow worker` killed in the middle of a batch, then started again: every
notification arrives, once where the provider is idempotent (Twilio's idempotency token),
at least once otherwise."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.identity.schemas import Role
from clinicflow.notifications import service as notifications
from clinicflow.notifications.models import Delivery
from clinicflow.notifications.schemas import DeliveryStatus, Kind
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.notifications.helpers import VALUES, until
from tests.notifications.standins import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioStandIn

pytestmark = pytest.mark.usefixtures("app")

MESSAGES = 100


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """One patient is sent all the messages: a load, not a flood, so no hourly budget."""
    return settings.model_copy(
        update={
            "notification_sends_per_user_per_hour": MESSAGES,
            "notification_sends_per_address_per_hour": MESSAGES,
        }
    )


@asynccontextmanager
async def worker_process(
    settings: Settings, twilio_url: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    environment = {
        **os.environ,
        "CLINICFLOW_ENV": "test",
        "CLINICFLOW_SECRET_KEY": settings.secret_key,
        "DATABASE_URL": settings.database_url,
        "CLINICFLOW_VAR_DIR": str(settings.var_dir),
        "TWILIO_BASE_URL": twilio_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": FROM_NUMBER,
        # A claimed row comes due again this soon after its worker died.
        "NOTIFICATION_LEASE_SECONDS": "1",
        "NOTIFICATION_POLL_SECONDS": "0.1",
    }
    environment.pop("REDIS_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clinicflow",
        "worker",
        env=environment,
        cwd=settings.var_dir,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_a_worker_killed_mid_batch_loses_and_repeats_nothing(
    settings: Settings,
    runtime: Runtime,
    accounts: Accounts,
    twilio: TwilioStandIn,
    twilio_url: str,
    session: AsyncSession,
) -> None:
    # Slow answers keep the whole batch in flight when the worker dies.
    twilio.delay_seconds = 0.5
    patient = await accounts.make(Role.patient)
    async with runtime.transaction() as tx:
        for n in range(MESSAGES):
            await notifications.notify(
                tx, user_id=patient.id, kind=Kind.queue_top3, values={**VALUES, "position": str(n)}
            )

    async def some_arrived() -> bool:
        return twilio.calls >= 10

    async with worker_process(settings, twilio_url) as first:
        await until(some_arrived)
        first.send_signal(signal.SIGKILL)
        await first.wait()
    sent_before_restart = await session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.channel == "sms", Delivery.status == DeliveryStatus.sent)
    )
    assert sent_before_restart is not None
    assert sent_before_restart == 0  # it died before recording the batch

    twilio.delay_seconds = 0.0

    async def all_sent() -> bool:
        waiting = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.channel == "sms", Delivery.status != DeliveryStatus.sent)
        )
        return waiting == 0

    async with worker_process(settings, twilio_url):
        await until(all_sent)

    rows = list(await session.scalars(select(Delivery).where(Delivery.channel == "sms")))
    assert len(rows) == MESSAGES
    # Idempotent provider: one message per delivery, though some were requested twice.
    assert len(twilio.messages) == MESSAGES
    assert {sms.token for sms in twilio.messages} == {str(row.id) for row in rows}
    assert twilio.calls > MESSAGES
    assert {row.provider_id for row in rows} == {sms.sid for sms in twilio.messages}
    # Without the token (a provider that has none), each would have arrived at least once.
    assert all(row.attempts >= 1 for row in rows)
    assert any(row.attempts == 2 for row in rows)
