"""The record and the bell: rows in the recipient's language, one delivery per channel, the
in-app list, read marks, preferences within what the clinic allows, the live event."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.notifications import service as notifications
from clinicflow.notifications.schemas import DeliveryStatus, Kind
from clinicflow.runtime import Runtime
from tests.conftest import Published
from tests.consultations.clinic import Clinic
from tests.factories import Accounts
from tests.notifications.helpers import channels_of, deliveries_of, notifications_of, notify

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def clinic(client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime) -> Clinic:
    return Clinic(client, accounts, runtime)


async def test_a_notification_is_rendered_in_the_recipients_language(
    runtime: Runtime, accounts: Accounts, session: AsyncSession
) -> None:
    english = await accounts.make(Role.patient)
    swahili = await accounts.make(Role.patient, profile={"preferred_language": "sw"})
    await notify(runtime, english.id, Kind.booking_confirmed)
    await notify(runtime, swahili.id, Kind.booking_confirmed)
    [en] = await notifications_of(session, english.id)
    [sw] = await notifications_of(session, swahili.id)
    assert en.title == "Appointment confirmed"
    assert "Dr Achieng" in en.body
    assert "2026-03-03 10:00" in en.body
    assert sw.title == "Miadi imethibitishwa"
    assert "Dr Achieng" in sw.body
    assert sw.language == "sw"


async def test_each_channel_gets_a_delivery_and_in_app_is_delivered_at_once(
    runtime: Runtime, accounts: Accounts, session: AsyncSession
) -> None:
    patient = await accounts.make(Role.patient, email="amina@example.com")
    notification_id = await notify(runtime, patient.id, Kind.booking_confirmed)
    rows = {row.channel.value: row for row in await deliveries_of(session, patient.id)}
    assert set(rows) == {"in_app", "sms", "email"}
    assert rows["in_app"].status is DeliveryStatus.sent
    assert rows["sms"].status is DeliveryStatus.pending
    assert rows["sms"].address == patient.phone
    assert rows["email"].address == "amina@example.com"
    assert rows["sms"].next_attempt_at is not None
    assert await channels_of(session, notification_id) == set(rows)


async def test_a_channel_the_person_does_not_have_gets_no_delivery(
    runtime: Runtime, accounts: Accounts, session: AsyncSession
) -> None:
    patient = await accounts.make(Role.patient)
    notification_id = await notify(runtime, patient.id, Kind.queue_turn)
    assert await channels_of(session, notification_id) == {"in_app", "sms"}


async def test_the_notification_and_its_change_roll_back_together(
    runtime: Runtime, accounts: Accounts, session: AsyncSession
) -> None:
    patient = await accounts.make(Role.patient)

    async def fail_after_notifying() -> None:
        async with runtime.transaction() as tx:
            await notifications.notify(
                tx, user_id=patient.id, kind=Kind.consult_ended, values={"doctor": "X"}
            )
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await fail_after_notifying()
    assert await notifications_of(session, patient.id) == []


async def test_the_bell_lists_counts_and_marks_read(
    runtime: Runtime, clinic: Clinic, client: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    patient = await clinic.patient()
    first = await notify(runtime, patient.id, Kind.booking_confirmed)
    frozen_clock.advance(minutes=1)
    second = await notify(runtime, patient.id, Kind.reminder_24h)

    listed = (await client.get("/api/notifications", headers=patient.headers)).json()
    assert listed["unread_count"] == 2
    assert [item["id"] for item in listed["items"]] == [str(second), str(first)]
    assert listed["items"][0]["type"] == "reminder_24h"

    read = await client.post(f"/api/notifications/{first}/read", headers=patient.headers)
    assert read.status_code == 200
    assert read.json()["read_at"] is not None
    unread = (await client.get("/api/notifications?unread=true", headers=patient.headers)).json()
    assert [item["id"] for item in unread["items"]] == [str(second)]
    assert unread["unread_count"] == 1
    done = (await client.get("/api/notifications?unread=false", headers=patient.headers)).json()
    assert [item["id"] for item in done["items"]] == [str(first)]

    everything = await client.post("/api/notifications/read-all", headers=patient.headers)
    assert everything.json() == {"marked": 1, "unread_count": 0}
    after = (await client.get("/api/notifications", headers=patient.headers)).json()
    assert after["unread_count"] == 0


async def test_someone_elses_notification_is_not_found(
    runtime: Runtime, clinic: Clinic, client: httpx.AsyncClient
) -> None:
    owner = await clinic.patient()
    other = await clinic.patient()
    notification_id = await notify(runtime, owner.id, Kind.booking_confirmed)
    response = await client.post(
        f"/api/notifications/{notification_id}/read", headers=other.headers
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    listed = (await client.get("/api/notifications", headers=other.headers)).json()
    assert listed == {"items": [], "unread_count": 0}


async def test_a_new_notification_is_pushed_live_with_the_unread_count(
    runtime: Runtime, accounts: Accounts, events: Published
) -> None:
    patient = await accounts.make(Role.patient)
    notification_id = await notify(runtime, patient.id, Kind.consult_accepted)
    event = await events.wait_for(lambda e: e.type == "notification.created")
    assert event.topic == f"user:{patient.id}"
    assert event.data["unread_count"] == 1
    assert event.data["notification"]["id"] == str(notification_id)
    assert event.data["notification"]["type"] == "consult_accepted"


async def test_preferences_choose_channels_within_what_the_clinic_allows(
    runtime: Runtime, clinic: Clinic, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    patient = await clinic.patient()
    shown = (await client.get("/api/me/notification-preferences", headers=patient.headers)).json()
    confirmed = next(t for t in shown["types"] if t["type"] == "booking_confirmed")
    assert confirmed["channels"] == ["in_app", "sms", "email"]
    assert confirmed["chosen"] is False
    assert "in_app" in shown["available_channels"]
    assert "sms" in shown["available_channels"]
    assert "push" not in shown["allowed_channels"]  # no VAPID keys in the test settings

    response = await client.put(
        "/api/me/notification-preferences",
        json={"types": {"booking_confirmed": ["in_app"], "queue_turn": ["in_app"]}},
        headers=patient.headers,
    )
    assert response.status_code == 200, response.text
    confirmed = next(t for t in response.json()["types"] if t["type"] == "booking_confirmed")
    assert confirmed == {**confirmed, "channels": ["in_app"], "chosen": True}

    quiet = await notify(runtime, patient.id, Kind.booking_confirmed)
    assert await channels_of(session, quiet) == {"in_app"}
    # Urgent types ignore the choice and go to every channel the person has.
    urgent = await notify(runtime, patient.id, Kind.queue_turn)
    assert await channels_of(session, urgent) == {"in_app", "sms"}


async def test_a_channel_the_clinic_switched_off_is_refused_and_never_used(
    runtime: Runtime, clinic: Clinic, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    runtime.sessionmaker.kw["info"][notifications.ALLOWED_KEY] = frozenset(
        {notifications.Channel.in_app, notifications.Channel.email}
    )
    patient = await clinic.patient()
    response = await client.put(
        "/api/me/notification-preferences",
        json={"types": {"booking_confirmed": ["sms"]}},
        headers=patient.headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "channel_not_allowed"
    urgent = await notify(runtime, patient.id, Kind.queue_turn)
    assert await channels_of(session, urgent) == {"in_app"}


async def public_dns(host: str, port: int) -> list[str]:
    """Every push service's name resolves to a public address (no real DNS in tests)."""
    return ["142.250.180.10"]


async def test_a_browser_registers_its_push_subscription(
    clinic: Clinic, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    runtime.resolver = public_dns
    patient = await clinic.patient()
    body = {
        "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
        "keys": {"p256dh": "BPublicKey_-", "auth": "c2VjcmV0"},
        "expirationTime": None,
    }
    first = await client.post("/api/push/subscriptions", json=body, headers=patient.headers)
    assert first.status_code == 201, first.text
    again = await client.post("/api/push/subscriptions", json=body, headers=patient.headers)
    assert again.json()["id"] == first.json()["id"]
    edge = {**body, "endpoint": "https://wns2-par02p.notify.windows.com/w/?token=abc"}
    accepted = await client.post("/api/push/subscriptions", json=edge, headers=patient.headers)
    assert accepted.status_code == 201, accepted.text
    for endpoint in [
        "javascript:alert(1)",
        "https://fcm.googleapis.com/\x00",
        # The worker would post to these: the clinic's own network, cloud metadata, a
        # look-alike host, and a listed service over plain http.
        "http://127.0.0.1:5432/push",
        "https://169.254.169.254/latest/meta-data",
        "https://fcm.googleapis.com.evil.example/send",
        "http://fcm.googleapis.com/fcm/send/abc",
        # Not an address at all (an unclosed IPv6 bracket answered a 500).
        "https://[fcm.googleapis.com/send",
    ]:
        bad = {**body, "endpoint": endpoint}
        refused = await client.post("/api/push/subscriptions", json=bad, headers=patient.headers)
        assert refused.status_code == 422, endpoint


async def test_the_unread_count_leaves_out_what_the_bell_does_not_show(
    runtime: Runtime, clinic: Clinic, client: httpx.AsyncClient
) -> None:
    patient = await clinic.patient()
    await client.put(
        "/api/me/notification-preferences",
        json={"types": {"booking_moved": ["sms"]}},
        headers=patient.headers,
    )
    await notify(runtime, patient.id, Kind.booking_moved)
    listed = (await client.get("/api/notifications", headers=patient.headers)).json()
    assert listed == {"items": [], "unread_count": 0}
