"""The dispatcher: claims due deliveries, retries with backoff on the injectable clock,
gives up after `MAX_ATTEMPTS` where an admin sees it, and never sends a row twice across
workers."""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Environment, Settings
from clinicflow.core.clock import FrozenClock
from clinicflow.identity import service as identity
from clinicflow.identity.models import OtpCode
from clinicflow.identity.schemas import Role
from clinicflow.notifications import service as notifications
from clinicflow.notifications.channels import ProviderSender
from clinicflow.notifications.jobs import Dispatcher
from clinicflow.notifications.models import Delivery
from clinicflow.notifications.schemas import Channel, DeliveryStatus, Kind
from clinicflow.runtime import Runtime, build_runtime
from tests.factories import Accounts, bearer, login
from tests.notifications.conftest import with_twilio
from tests.notifications.helpers import VALUES, notify, until
from tests.notifications.standins import TwilioStandIn

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Patients here are sent hundreds of messages: a load, not a flood, so no hourly budget."""
    return settings.model_copy(
        update={
            "notification_sends_per_user_per_hour": 10_000,
            "notification_sends_per_address_per_hour": 10_000,
        }
    )


async def sms_delivery(session: AsyncSession, notification_id: uuid.UUID) -> Delivery:
    row = await session.scalar(
        select(Delivery)
        .where(Delivery.notification_id == notification_id, Delivery.channel == Channel.sms)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def test_sms_retries_until_the_provider_answers(
    runtime: Runtime,
    accounts: Accounts,
    dispatcher: Dispatcher,
    twilio: TwilioStandIn,
    session: AsyncSession,
    frozen_clock: FrozenClock,
) -> None:
    twilio.fail_first = 3
    patient = await accounts.make(Role.patient)
    notification_id = await notify(runtime, patient.id, Kind.booking_confirmed)

    with structlog.testing.capture_logs() as logs:
        for attempt, nominal in enumerate([1, 2, 4], start=1):
            assert await dispatcher.run_once() == 1
            row = await sms_delivery(session, notification_id)
            assert (row.status, row.attempts) == (DeliveryStatus.failed, attempt)
            assert "500" in (row.error or "")
            assert row.next_attempt_at is not None
            wait = row.next_attempt_at - frozen_clock.current
            assert timedelta(seconds=nominal / 2) <= wait <= timedelta(seconds=nominal)
            assert await dispatcher.run_once() == 0  # not due yet
            frozen_clock.advance(seconds=nominal)

        assert await dispatcher.run_once() == 1
    # The operator's log: each failure with its error, the success without an `error` key.
    lines = [line for line in logs if line["event"].startswith("notifications.deliver")]
    assert [line["event"] for line in lines] == ["notifications.delivery_failed"] * 3 + [
        "notifications.delivered"
    ]
    assert all("500" in line["error"] for line in lines[:3])
    assert "error" not in lines[3]
    row = await sms_delivery(session, notification_id)
    assert (row.status, row.attempts, row.error) == (DeliveryStatus.sent, 4, None)
    assert twilio.calls == 4
    [sms] = twilio.messages
    assert row.provider_id == sms.sid
    assert sms.to == patient.phone
    assert sms.token == str(row.id)
    assert (
        sms.body
        == "Appointment confirmed: Your appointment with Dr Achieng on 2026-03-03 10:00 is confirmed."
    )


async def test_a_provider_that_never_recovers_is_given_up_after_max_attempts_and_an_admin_retries(
    runtime: Runtime,
    accounts: Accounts,
    dispatcher: Dispatcher,
    twilio: TwilioStandIn,
    session: AsyncSession,
    frozen_clock: FrozenClock,
    client: httpx.AsyncClient,
) -> None:
    twilio.always_fail = True
    patient = await accounts.make(Role.patient)
    notification_id = await notify(runtime, patient.id, Kind.queue_top3)
    for _ in range(notifications.MAX_ATTEMPTS):
        assert await dispatcher.run_once() == 1
        frozen_clock.advance(hours=1, seconds=1)
    assert await dispatcher.run_once() == 0
    row = await sms_delivery(session, notification_id)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        DeliveryStatus.gave_up,
        notifications.MAX_ATTEMPTS,
        None,
    )
    assert twilio.calls == notifications.MAX_ATTEMPTS

    admin = bearer(await login(client, await accounts.make(Role.admin)))
    log = await client.get(
        "/api/admin/deliveries",
        params={"status": "gave_up", "channel": "sms", "type": "queue_top3"},
        headers=admin,
    )
    assert [entry["id"] for entry in log.json()] == [str(row.id)]
    assert log.json()[0]["user_id"] == str(patient.id)
    other_type = await client.get("/api/admin/deliveries?type=queue_turn", headers=admin)
    assert other_type.json() == []

    twilio.always_fail = False
    retried = await client.post(f"/api/admin/deliveries/{row.id}/retry", headers=admin)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    assert await dispatcher.run_once() == 1
    assert (await sms_delivery(session, notification_id)).status is DeliveryStatus.sent
    again = await client.post(f"/api/admin/deliveries/{row.id}/retry", headers=admin)
    assert again.json()["error"]["code"] == "invalid_transition"


async def test_only_admins_see_the_delivery_log(
    accounts: Accounts, client: httpx.AsyncClient
) -> None:
    doctor = bearer(await login(client, await accounts.make(Role.doctor)))
    response = await client.get("/api/admin/deliveries", headers=doctor)
    assert response.status_code == 403
    retry = await client.post(f"/api/admin/deliveries/{uuid.uuid4()}/retry", headers=doctor)
    assert retry.status_code == 403


async def test_a_provider_refusal_is_not_retried(
    runtime: Runtime,
    accounts: Accounts,
    dispatcher: Dispatcher,
    session: AsyncSession,
    frozen_clock: FrozenClock,
) -> None:
    patient = await accounts.make(Role.patient)
    notification_id = await notify(runtime, patient.id, Kind.booking_confirmed)
    # The stand-in refuses wrong credentials with 401: a refusal, not an outage.
    sms = dispatcher.channels[Channel.sms]
    sms.auth = ("ACwrong", "wrong")  # type: ignore[attr-defined]
    assert await dispatcher.run_once() == 1
    row = await sms_delivery(session, notification_id)
    assert (row.status, row.attempts) == (DeliveryStatus.gave_up, 1)


async def test_a_channel_without_a_provider_gives_up_visibly(
    runtime: Runtime, accounts: Accounts, session: AsyncSession, frozen_clock: FrozenClock
) -> None:
    patient = await accounts.make(Role.patient)
    notification_id = await notify(runtime, patient.id, Kind.booking_confirmed)
    dispatcher = Dispatcher(runtime, {})
    try:
        assert await dispatcher.run_once() == 1
    finally:
        await dispatcher.close()
    row = await sms_delivery(session, notification_id)
    assert row.status is DeliveryStatus.gave_up
    assert "not configured" in (row.error or "")


async def test_development_sends_sms_to_the_outbox(
    runtime: Runtime, accounts: Accounts, session: AsyncSession, frozen_clock: FrozenClock
) -> None:
    patient = await accounts.make(Role.patient)
    notification_id = await notify(runtime, patient.id, Kind.queue_next)
    dispatcher = Dispatcher(runtime)
    try:
        assert await dispatcher.run_once() == 1
    finally:
        await dispatcher.close()
    assert (await sms_delivery(session, notification_id)).status is DeliveryStatus.sent
    assert runtime.outbox is not None
    [message] = [m for m in runtime.outbox.messages() if m.to == patient.phone and "next" in m.body]
    assert message.body == "You're next: Token 7: you are next to see Dr Achieng."


@given(attempts=st.integers(min_value=1, max_value=40), seed=st.integers())
def test_retry_delays_double_from_one_second_up_to_an_hour_with_jitter(
    attempts: int, seed: int
) -> None:
    nominal = min(3600.0, 2.0 ** (attempts - 1))
    delay = notifications.retry_delay(attempts, random.Random(seed)).total_seconds()
    assert nominal / 2 <= delay <= nominal
    assert delay <= 3600


async def test_a_late_failure_does_not_overwrite_a_newer_attempt(
    runtime: Runtime, accounts: Accounts, session: AsyncSession, frozen_clock: FrozenClock
) -> None:
    patient = await accounts.make(Role.patient)
    notification_id = await notify(runtime, patient.id, Kind.booking_confirmed)
    async with runtime.transaction() as tx:
        [first] = await notifications.claim_due(session=tx, limit=10, lease_seconds=60)
    frozen_clock.advance(seconds=61)  # the first worker's lease ran out
    async with runtime.transaction() as tx:
        [second] = await notifications.claim_due(session=tx, limit=10, lease_seconds=60)
    assert (first.attempt, second.attempt) == (1, 2)
    assert first.idempotency_key == second.idempotency_key
    async with runtime.transaction() as tx:
        await notifications.record(
            session=tx, outcomes=[notifications.Outcome(second.delivery_id, 2, "SM2")]
        )
        await notifications.record(
            session=tx, outcomes=[notifications.Outcome(first.delivery_id, 1, error="timeout")]
        )
    row = await sms_delivery(session, notification_id)
    assert (row.status, row.provider_id) == (DeliveryStatus.sent, "SM2")


async def test_a_batch_of_successes_keeps_each_rows_own_answer_and_the_first_send(
    runtime: Runtime, accounts: Accounts, session: AsyncSession
) -> None:
    """Successes are recorded in one statement for the whole batch: each row still gets its
    own provider id, and a row already sent keeps the answer of the send that went out."""
    patients = [await accounts.make(Role.patient) for _ in range(3)]
    ids = [await notify(runtime, patient.id, Kind.booking_confirmed) for patient in patients]
    async with runtime.transaction() as tx:
        claimed = await notifications.claim_due(session=tx, limit=10, lease_seconds=60)
    sms = {m.delivery_id: m for m in claimed if m.channel is Channel.sms}
    assert len(sms) == 3
    first, *others = sms.values()
    async with runtime.transaction() as tx:
        await notifications.record(
            session=tx, outcomes=[notifications.Outcome(first.delivery_id, 1, "SM-first")]
        )
    async with runtime.transaction() as tx:
        await notifications.record(
            session=tx,
            outcomes=[
                notifications.Outcome(m.delivery_id, m.attempt, f"SM-{n}")
                for n, m in enumerate([first, *others])
            ],
        )
    rows = [await sms_delivery(session, notification_id) for notification_id in ids]
    answers = {row.id: (row.status, row.provider_id) for row in rows}
    assert answers[first.delivery_id] == (DeliveryStatus.sent, "SM-first")
    assert {answers[m.delivery_id] for m in others} == {
        (DeliveryStatus.sent, "SM-1"),
        (DeliveryStatus.sent, "SM-2"),
    }


async def test_two_workers_deliver_1000_due_deliveries_once_each(
    settings: Settings,
    runtime: Runtime,
    accounts: Accounts,
    make_dispatcher: Callable[[Runtime], Dispatcher],
    twilio: TwilioStandIn,
    session: AsyncSession,
) -> None:
    twilio.idempotent = False  # count every request: a row sent twice would show
    patients = [await accounts.make(Role.patient) for _ in range(10)]
    async with runtime.transaction() as tx:
        for n in range(1000):
            await notifications.notify(
                tx,
                user_id=patients[n % 10].id,
                kind=Kind.queue_top3,
                values={**VALUES, "position": str(n)},
            )
    second_runtime = build_runtime(settings)
    workers = [make_dispatcher(runtime), make_dispatcher(second_runtime)]
    stop = asyncio.Event()
    try:
        tasks = [asyncio.create_task(worker.run_forever(stop)) for worker in workers]

        async def all_sent() -> bool:
            waiting = await session.scalar(
                select(Delivery.id).where(Delivery.status != DeliveryStatus.sent).limit(1)
            )
            return waiting is None

        await until(all_sent, seconds=120)
        stop.set()
        await asyncio.gather(*tasks)
    finally:
        stop.set()
        await second_runtime.close()
    assert twilio.calls == 1000
    assert len({sms.token for sms in twilio.messages}) == 1000
    attempts = await session.scalars(select(Delivery.attempts).where(Delivery.channel == "sms"))
    assert set(attempts) == {1}


async def test_production_sends_the_sign_in_code_through_twilio(
    settings: Settings, twilio: TwilioStandIn, twilio_url: str
) -> None:
    production = with_twilio(settings, twilio_url).model_copy(
        update={"env": Environment.production}
    )
    runtime = build_runtime(production)
    try:
        sender = runtime.sessionmaker.kw["info"][notifications.SENDER_KEY]
        assert isinstance(sender, ProviderSender)
        assert runtime.outbox is None
        await sender.deliver(
            to="+254700111222", channel=Channel.sms, body="Your clinicflow code is 123456."
        )
    finally:
        await runtime.close()
    [sms] = twilio.messages
    assert (sms.to, sms.body) == ("+254700111222", "Your clinicflow code is 123456.")


async def test_production_texts_a_requested_sign_in_code_through_twilio_after_the_commit(
    settings: Settings, twilio: TwilioStandIn, twilio_url: str
) -> None:
    """Identity's `request_otp` reaches Twilio through the `CodeSender` the runtime wires in
    (notifications' `CodeBySms`), without identity importing notifications."""
    production = with_twilio(settings, twilio_url).model_copy(
        update={"env": Environment.production}
    )
    runtime = build_runtime(production)
    try:
        async with runtime.transaction() as session:
            await identity.request_otp(
                session=session,
                settings=production,
                limiter=runtime.limiter,
                phone="+254700111333",
                client=identity.Client(ip="192.0.2.7"),
            )
            assert twilio.messages == []
            stored = await session.scalar(select(OtpCode.code_hash))
    finally:
        await runtime.close()
    [sms] = twilio.messages
    code = re.search(r"\b(\d{6})\b", sms.body)
    assert sms.to == "+254700111333"
    assert code is not None
    assert stored is not None
    assert code.group(1) not in stored
