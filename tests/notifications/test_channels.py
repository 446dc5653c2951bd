"""The email and Web Push channels against real local servers: aiosmtpd for SMTP, and a
push endpoint that decrypts what it receives with the browser's keys."""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes

import http_ece
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.notifications.jobs import Dispatcher
from clinicflow.notifications.models import Delivery, PushSubscription
from clinicflow.notifications.schemas import Channel, DeliveryStatus, Kind
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic
from tests.factories import Accounts
from tests.notifications.helpers import channels_of, notify
from tests.notifications.standins import Mailbox, PushStandIn, smtp_mailbox
from tests.realtime.conftest import serving

pytestmark = pytest.mark.usefixtures("app")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def vapid_keys() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(private), b64url(public)


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def mailbox(smtp_port: int) -> Iterator[Mailbox]:
    with smtp_mailbox(smtp_port) as box:
        yield box


@pytest.fixture
def settings(settings: Settings, smtp_port: int, vapid_keys: tuple[str, str]) -> Settings:
    private, public = vapid_keys
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "smtp_start_tls": False,
            "smtp_from": "clinicflow <no-reply@clinic.example.com>",
            "vapid_private_key": private,
            "vapid_public_key": public,
            "push_service_hosts": ["127.0.0.1"],  # the stand-in push service
        }
    )


@pytest.fixture
async def dispatcher(runtime: Runtime) -> AsyncIterator[Dispatcher]:
    running = Dispatcher(runtime)
    yield running
    await running.close()


async def delivery(session: AsyncSession, notification_id: uuid.UUID, channel: Channel) -> Delivery:
    row = await session.scalar(
        select(Delivery)
        .where(Delivery.notification_id == notification_id, Delivery.channel == channel)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def test_email_goes_out_over_smtp_in_the_recipients_language(
    runtime: Runtime,
    accounts: Accounts,
    mailbox: Mailbox,
    dispatcher: Dispatcher,
    session: AsyncSession,
) -> None:
    patient = await accounts.make(
        Role.patient, email="neema@example.com", profile={"preferred_language": "sw"}
    )
    notification_id = await notify(runtime, patient.id, Kind.booking_cancelled)
    assert await dispatcher.run_once() == 2  # SMS to the outbox, email over SMTP
    row = await delivery(session, notification_id, Channel.email)
    assert row.status is DeliveryStatus.sent
    [(sender, recipients, raw)] = mailbox.messages
    assert sender == "no-reply@clinic.example.com"
    assert recipients == ["neema@example.com"]
    email = message_from_bytes(raw)
    assert email["Subject"] == "Miadi imeghairiwa"
    assert email["Message-ID"] == f"<{row.id}@clinicflow>" == row.provider_id
    payload = email.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert "Dr Achieng" in payload.decode()


async def test_an_unreachable_smtp_server_is_retried(
    runtime: Runtime,
    accounts: Accounts,
    dispatcher: Dispatcher,
    session: AsyncSession,
    frozen_clock: FrozenClock,
) -> None:
    patient = await accounts.make(Role.patient, email="baraka@example.com")
    notification_id = await notify(runtime, patient.id, Kind.booking_confirmed)
    await dispatcher.run_once()
    row = await delivery(session, notification_id, Channel.email)
    assert (row.status, row.attempts) == (DeliveryStatus.failed, 1)
    assert "smtp" in (row.error or "")


@pytest.fixture
def push_service() -> PushStandIn:
    return PushStandIn()


@pytest.fixture
async def push_url(push_service: PushStandIn) -> AsyncIterator[str]:
    async with serving(push_service.app()) as server:
        yield server.http_url


async def test_web_push_is_encrypted_for_the_browser_and_signed_with_vapid(
    runtime: Runtime,
    client: httpx.AsyncClient,
    accounts: Accounts,
    dispatcher: Dispatcher,
    push_service: PushStandIn,
    push_url: str,
    session: AsyncSession,
    vapid_keys: tuple[str, str],
) -> None:
    clinic = Clinic(client, accounts, runtime)
    patient = await clinic.patient()
    config = await client.get("/api/push/config", headers=patient.headers)
    assert config.json() == {"public_key": vapid_keys[1]}

    browser_key = ec.generate_private_key(ec.SECP256R1())
    auth_secret = os.urandom(16)
    public = browser_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    subscription = {
        "endpoint": f"{push_url}/push/browser-1",
        "keys": {"p256dh": b64url(public), "auth": b64url(auth_secret)},
    }
    added = await client.post("/api/push/subscriptions", json=subscription, headers=patient.headers)
    assert added.status_code == 201, added.text

    notification_id = await notify(runtime, patient.id, Kind.consult_accepted)
    assert await channels_of(session, notification_id) == {"in_app", "push"}
    assert await dispatcher.run_once() == 1
    row = await delivery(session, notification_id, Channel.push)
    assert row.status is DeliveryStatus.sent, row.error
    [received] = push_service.received
    assert received["subscription"] == "browser-1"
    assert received["encoding"] == "aes128gcm"
    assert received["topic"] == row.id.hex
    assert received["authorization"].startswith("vapid t=")
    assert f"k={vapid_keys[1]}" in received["authorization"]
    assert row.provider_id == "/messages/1"
    [body] = push_service.bodies
    plain = http_ece.decrypt(body, private_key=browser_key, auth_secret=auth_secret)
    assert json.loads(plain) == {
        "title": "Consultation accepted",
        "body": "Dr Achieng accepted your consultation.",
        "priority": "normal",
        "notification_id": str(notification_id),
    }


async def subscribe(client: httpx.AsyncClient, headers: dict[str, str], endpoint: str) -> None:
    """A browser's push subscription, with keys it would make."""
    public = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    subscription = {
        "endpoint": endpoint,
        "keys": {"p256dh": b64url(public), "auth": b64url(os.urandom(16))},
    }
    added = await client.post("/api/push/subscriptions", json=subscription, headers=headers)
    assert added.status_code == 201, added.text


async def endpoints_of(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    rows = await session.scalars(
        select(PushSubscription.endpoint).where(PushSubscription.user_id == user_id)
    )
    return sorted(rows)


async def test_a_browser_that_unsubscribed_makes_push_give_up_and_is_forgotten(
    runtime: Runtime,
    client: httpx.AsyncClient,
    accounts: Accounts,
    dispatcher: Dispatcher,
    push_service: PushStandIn,
    push_url: str,
    session: AsyncSession,
) -> None:
    push_service.gone.add("old")
    patient = await Clinic(client, accounts, runtime).patient()
    await subscribe(client, patient.headers, f"{push_url}/push/old")
    notification_id = await notify(runtime, patient.id, Kind.doctor_away)
    await dispatcher.run_once()
    row = await delivery(session, notification_id, Channel.push)
    assert (row.status, row.attempts) == (DeliveryStatus.gave_up, 1)
    assert "410" in (row.error or "")
    assert await endpoints_of(session, patient.id) == []


async def test_a_gone_browser_is_forgotten_while_another_takes_the_push(
    runtime: Runtime,
    client: httpx.AsyncClient,
    accounts: Accounts,
    dispatcher: Dispatcher,
    push_service: PushStandIn,
    push_url: str,
    session: AsyncSession,
) -> None:
    push_service.gone.add("old")
    patient = await Clinic(client, accounts, runtime).patient()
    await subscribe(client, patient.headers, f"{push_url}/push/old")
    await subscribe(client, patient.headers, f"{push_url}/push/phone")
    notification_id = await notify(runtime, patient.id, Kind.doctor_away)
    await dispatcher.run_once()
    row = await delivery(session, notification_id, Channel.push)
    assert row.status is DeliveryStatus.sent, row.error
    assert [received["subscription"] for received in push_service.received] == ["phone"]
    assert await endpoints_of(session, patient.id) == [f"{push_url}/push/phone"]
