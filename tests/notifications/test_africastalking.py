"""Africa's Talking beside Twilio, chosen by `SMS_PROVIDER`: the real adapter against a
stand-in that speaks its protocol, and each of its answers leading to sent, retry or give up."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.notifications import channels
from clinicflow.notifications.africastalking import AfricasTalkingSms
from clinicflow.notifications.channels import TwilioSms
from clinicflow.notifications.jobs import Dispatcher
from clinicflow.notifications.models import Attempt, Delivery
from clinicflow.notifications.schemas import Channel, DeliveryStatus, Kind
from clinicflow.notifications.service.push_endpoints import system_resolver
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.notifications.conftest import with_twilio
from tests.notifications.helpers import notify
from tests.notifications.standin_africastalking import (
    API_KEY,
    SENDER_ID,
    USERNAME,
    AfricasTalkingStandIn,
    Mode,
)
from tests.realtime.conftest import serving

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def africastalking() -> AfricasTalkingStandIn:
    return AfricasTalkingStandIn()


@pytest.fixture
async def at_settings(
    settings: Settings, africastalking: AfricasTalkingStandIn
) -> AsyncIterator[Settings]:
    async with serving(africastalking.app()) as server:
        yield settings.model_copy(
            update={
                "sms_provider": "africastalking",
                "africastalking_base_url": server.http_url,
                "africastalking_username": USERNAME,
                "africastalking_api_key": API_KEY,
                "africastalking_sender_id": SENDER_ID,
            }
        )


@pytest.fixture
async def at_dispatcher(runtime: Runtime, at_settings: Settings) -> AsyncIterator[Dispatcher]:
    async with httpx.AsyncClient() as client:
        adapters = channels.build(
            at_settings, outbox=None, client=client, resolver=runtime.resolver
        )
        dispatcher = Dispatcher(runtime, adapters)
        yield dispatcher
        await dispatcher.close()


async def sms_of(session: AsyncSession, notification_id: uuid.UUID) -> Delivery:
    row = await session.scalar(
        select(Delivery)
        .where(Delivery.notification_id == notification_id, Delivery.channel == Channel.sms)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


def test_the_setting_chooses_the_sms_gateway(settings: Settings) -> None:
    twilio = with_twilio(settings, "http://127.0.0.1:9")
    assert isinstance(
        channels.build(twilio, outbox=None, client=None, resolver=system_resolver)[Channel.sms],
        TwilioSms,
    )
    chosen = twilio.model_copy(
        update={
            "sms_provider": "africastalking",
            "africastalking_username": USERNAME,
            "africastalking_api_key": API_KEY,
        }
    )
    adapters = channels.build(chosen, outbox=None, client=None, resolver=system_resolver)
    assert isinstance(adapters[Channel.sms], AfricasTalkingSms)
    # Chosen but without its key: no SMS adapter at all, rather than Twilio by surprise.
    unkeyed = twilio.model_copy(update={"sms_provider": "africastalking"})
    assert Channel.sms not in channels.build(
        unkeyed, outbox=None, client=None, resolver=system_resolver
    )


async def test_an_sms_goes_out_through_africastalking(
    runtime: Runtime,
    accounts: Accounts,
    at_dispatcher: Dispatcher,
    africastalking: AfricasTalkingStandIn,
    session: AsyncSession,
    frozen_clock: FrozenClock,
) -> None:
    patient = await accounts.make(Role.patient)
    notification_id = await notify(runtime, patient.id, Kind.booking_confirmed)
    assert await at_dispatcher.run_once() == 1
    row = await sms_of(session, notification_id)
    [sms] = africastalking.messages
    assert (row.status, row.provider_id) == (DeliveryStatus.sent, sms.message_id)
    assert (sms.to, sms.sender) == (patient.phone, SENDER_ID)
    assert sms.message.startswith("Appointment confirmed: ")


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("invalid_number", DeliveryStatus.gave_up, 201),
        ("insufficient_balance", DeliveryStatus.failed, 201),
        ("server_error", DeliveryStatus.failed, 201),
        ("down", DeliveryStatus.failed, 503),
    ],
)
async def test_each_refusal_is_retried_or_given_up_and_logged(
    runtime: Runtime,
    accounts: Accounts,
    at_dispatcher: Dispatcher,
    africastalking: AfricasTalkingStandIn,
    session: AsyncSession,
    frozen_clock: FrozenClock,
    mode: Mode,
    status: DeliveryStatus,
    code: int,
) -> None:
    africastalking.mode = mode
    patient = await accounts.make(Role.patient)
    notification_id = await notify(runtime, patient.id, Kind.booking_confirmed)
    assert await at_dispatcher.run_once() == 1
    row = await sms_of(session, notification_id)
    assert row.status is status
    assert (row.next_attempt_at is None) == (status is DeliveryStatus.gave_up)
    [attempt] = await session.scalars(select(Attempt).where(Attempt.delivery_id == row.id))
    assert (attempt.attempt, attempt.status_code) == (1, code)
    assert attempt.answer.startswith("africastalking ")
    # A retried refusal goes out once the gateway takes it again.
    if status is DeliveryStatus.failed:
        africastalking.mode = "ok"
        frozen_clock.advance(seconds=2)
        assert await at_dispatcher.run_once() == 1
        assert (await sms_of(session, notification_id)).status is DeliveryStatus.sent
        assert len(africastalking.messages) == 1


async def test_a_wrong_key_gives_up_where_the_admin_sees_it(
    runtime: Runtime,
    accounts: Accounts,
    at_settings: Settings,
    africastalking: AfricasTalkingStandIn,
    session: AsyncSession,
    frozen_clock: FrozenClock,
) -> None:
    wrong = at_settings.model_copy(update={"africastalking_api_key": "not-the-key"})
    async with httpx.AsyncClient() as client:
        dispatcher = Dispatcher(
            runtime, channels.build(wrong, outbox=None, client=client, resolver=runtime.resolver)
        )
        patient = await accounts.make(Role.patient)
        notification_id = await notify(runtime, patient.id, Kind.booking_confirmed)
        assert await dispatcher.run_once() == 1
        await dispatcher.close()
    row = await sms_of(session, notification_id)
    assert row.status is DeliveryStatus.gave_up
    assert "africastalking 401" in (row.error or "")
