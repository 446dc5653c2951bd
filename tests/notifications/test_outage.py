"""SMS that survives a provider's outage: retries that span a day with capped, jittered
backoff, each failure logged with the provider's answer, delivered once (never twice)
when the provider recovers; "Retry failed" for a whole filter; an urgent message that
keeps failing also sent on the person's other channels."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity import service as identity
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.notifications import channels
from clinicflow.notifications import service as notifications
from clinicflow.notifications.jobs import Dispatcher
from clinicflow.notifications.models import Attempt, Delivery
from clinicflow.notifications.schemas import Channel, DeliveryStatus, Kind
from clinicflow.runtime import Runtime
from tests.factories import Accounts, bearer, login
from tests.notifications.conftest import with_twilio
from tests.notifications.helpers import notify
from tests.notifications.standins import TwilioStandIn

pytestmark = pytest.mark.usefixtures("app")


async def delivery_on(
    session: AsyncSession, notification_id: uuid.UUID, channel: Channel = Channel.sms
) -> Delivery | None:
    row: Delivery | None = await session.scalar(
        select(Delivery)
        .where(Delivery.notification_id == notification_id, Delivery.channel == channel)
        .execution_options(populate_existing=True)
    )
    return row


async def sms_of(session: AsyncSession, notification_id: uuid.UUID) -> Delivery:
    row = await delivery_on(session, notification_id)
    assert row is not None
    return row


@given(seed=st.integers(0, 2**32 - 1))
def test_the_retries_span_at_least_a_day_and_each_wait_is_capped(seed: int) -> None:
    rng = random.Random(seed)
    waits = [notifications.retry_delay(n, rng) for n in range(1, notifications.MAX_ATTEMPTS)]
    assert sum(waits, timedelta()) >= timedelta(hours=24)
    assert max(waits) <= timedelta(seconds=3600)
    assert waits[0] <= timedelta(seconds=1)


async def test_a_day_long_outage_is_ridden_out_and_the_sms_arrives_once(
    runtime: Runtime,
    accounts: Accounts,
    dispatcher: Dispatcher,
    twilio: TwilioStandIn,
    session: AsyncSession,
    frozen_clock: FrozenClock,
) -> None:
    twilio.always_fail = True
    patient = await accounts.make(Role.patient)
    notification_id = await notify(runtime, patient.id, Kind.booking_confirmed)
    start = frozen_clock.current
    while frozen_clock.current - start < timedelta(hours=24):
        assert await dispatcher.run_once() == 1
        row = await sms_of(session, notification_id)
        # Still trying: a day of refusals is not a reason to give up.
        assert row.status is DeliveryStatus.failed, (row.attempts, frozen_clock.current - start)
        assert row.next_attempt_at is not None
        assert await dispatcher.run_once() == 0  # not due before its time
        frozen_clock.current = row.next_attempt_at
    failures = row.attempts
    assert 13 < failures < notifications.MAX_ATTEMPTS

    twilio.always_fail = False
    assert await dispatcher.run_once() == 1
    row = await sms_of(session, notification_id)
    assert (row.status, row.attempts) == (DeliveryStatus.sent, failures + 1)
    frozen_clock.advance(hours=48)
    assert await dispatcher.run_once() == 0
    assert len(twilio.messages) == 1  # delivered once, never twice
    assert twilio.calls == failures + 1

    logged = list(
        await session.scalars(
            select(Attempt).where(Attempt.delivery_id == row.id).order_by(Attempt.attempt)
        )
    )
    assert [a.attempt for a in logged] == list(range(1, failures + 1))
    assert {a.status_code for a in logged} == {500}
    assert all(a.answer.startswith("twilio 500: ") for a in logged)
    assert "Internal Server Error" in logged[0].answer


async def test_the_admin_sees_each_failed_attempt_with_the_providers_answer(
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
    notification_id = await notify(runtime, patient.id, Kind.booking_confirmed)
    for _ in range(2):
        assert await dispatcher.run_once() == 1
        frozen_clock.advance(seconds=5)
    row = await sms_of(session, notification_id)
    admin = bearer(await login(client, await accounts.make(Role.admin)))
    answer = await client.get(f"/api/admin/deliveries/{row.id}/attempts", headers=admin)
    assert answer.status_code == 200, answer.text
    assert [(a["attempt"], a["status_code"]) for a in answer.json()] == [(2, 500), (1, 500)]
    page = await client.get("/admin/deliveries", headers=admin)
    assert page.status_code == 200
    assert page.text.count('data-testid="attempt"') == 2
    assert "HTTP 500" in page.text
    assert 'data-testid="retry-all"' in page.text
    missing = await client.get(f"/api/admin/deliveries/{uuid.uuid4()}/attempts", headers=admin)
    assert missing.status_code == 404
    doctor = bearer(await login(client, await accounts.make(Role.doctor)))
    refused = await client.get(f"/api/admin/deliveries/{row.id}/attempts", headers=doctor)
    assert refused.status_code in (403, 404)


async def test_retry_failed_sends_again_every_failed_delivery_of_the_filter(
    runtime: Runtime,
    accounts: Accounts,
    dispatcher: Dispatcher,
    twilio: TwilioStandIn,
    session: AsyncSession,
    frozen_clock: FrozenClock,
    client: httpx.AsyncClient,
) -> None:
    twilio.always_fail, twilio.failing_status = True, 400  # refused for good: gave up
    patients = [await accounts.make(Role.patient) for _ in range(3)]
    booked = [await notify(runtime, p.id, Kind.booking_confirmed) for p in patients[:2]]
    other = await notify(runtime, patients[2].id, Kind.queue_top3)
    assert await dispatcher.run_once() == 3
    for notification_id in [*booked, other]:
        assert (await sms_of(session, notification_id)).status is DeliveryStatus.gave_up

    admin = bearer(await login(client, await accounts.make(Role.admin)))
    bad = await client.post(
        "/api/admin/deliveries/retry-failed", json={"status": "sent"}, headers=admin
    )
    assert bad.status_code == 422
    assert "status" in bad.text
    doctor = bearer(await login(client, await accounts.make(Role.doctor)))
    refused = await client.post("/api/admin/deliveries/retry-failed", json={}, headers=doctor)
    assert refused.status_code == 403

    twilio.always_fail = False
    answer = await client.post(
        "/api/admin/deliveries/retry-failed",
        json={"channel": "sms", "type": "booking_confirmed"},
        headers=admin,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"retried": 2}
    assert await dispatcher.run_once() == 2
    for notification_id in booked:
        assert (await sms_of(session, notification_id)).status is DeliveryStatus.sent
    assert (await sms_of(session, other)).status is DeliveryStatus.gave_up
    audited = await session.scalar(
        select(AuditEntry).where(AuditEntry.action == "notification.deliveries_retry")
    )
    assert audited is not None
    assert audited.details["retried"] == 2


@pytest.fixture
async def with_email(
    runtime: Runtime, settings: Settings, twilio_url: str
) -> AsyncIterator[Dispatcher]:
    """SMS to the Twilio stand-in, email to the development outbox."""
    async with httpx.AsyncClient() as client:
        adapters = channels.build(
            with_twilio(settings, twilio_url),
            outbox=runtime.outbox,
            client=client,
            resolver=runtime.resolver,
        )
        dispatcher = Dispatcher(runtime, adapters)
        yield dispatcher
        await dispatcher.close()


async def test_an_urgent_message_failing_on_sms_falls_over_to_the_persons_email(
    runtime: Runtime,
    accounts: Accounts,
    with_email: Dispatcher,
    twilio: TwilioStandIn,
    session: AsyncSession,
    frozen_clock: FrozenClock,
) -> None:
    twilio.always_fail = True
    patient = await accounts.make(Role.patient)
    turn = await notify(runtime, patient.id, Kind.queue_turn)
    calm = await notify(runtime, patient.id, Kind.queue_top3)
    # Since the message was written, the patient gave an email address.
    async with runtime.transaction() as tx:
        user = await tx.get_one(User, patient.id)
        await identity.update_own_contact(
            session=tx, actor=user, changes={"email": "amina@example.com"}
        )
    for attempt in range(1, notifications.URGENT_FALLOVER_FAILURES):
        await with_email.run_once()
        assert await delivery_on(session, turn, Channel.email) is None, attempt
        frozen_clock.advance(seconds=10)
    await with_email.run_once()
    email = await delivery_on(session, turn, Channel.email)
    assert email is not None
    assert (email.status, email.address) == (DeliveryStatus.pending, "amina@example.com")
    # A message that is not urgent keeps to its channels.
    assert await delivery_on(session, calm, Channel.email) is None
    await with_email.run_once()
    email = await delivery_on(session, turn, Channel.email)
    assert email is not None
    assert email.status is DeliveryStatus.sent
    assert runtime.outbox is not None
    assert any(
        m.to == "amina@example.com" and "ready to see you" in m.body
        for m in runtime.outbox.messages()
    )
    # Falling over again later adds nothing: the channel has its delivery.
    frozen_clock.advance(seconds=30)
    await with_email.run_once()
    emails = await session.scalars(
        select(Delivery).where(Delivery.notification_id == turn, Delivery.channel == Channel.email)
    )
    assert len(list(emails)) == 1
