"""The notification pages through HTTP: the bell in every role's header, the list with its
read marks, the preferences form, the admin's delivery log with filters and retry-now,
and the service worker."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.notifications.models import Delivery, Preference
from clinicflow.notifications.pages import target
from clinicflow.notifications.schemas import DeliveryStatus, Kind
from clinicflow.runtime import Runtime
from tests.factories import Accounts, csrf_from, sign_in_page_patient, sign_in_page_staff
from tests.notifications.helpers import notify

pytestmark = pytest.mark.usefixtures("app")


@pytest.mark.parametrize("role", [Role.doctor, Role.receptionist, Role.admin])
async def test_every_staff_role_has_the_bell(
    client: httpx.AsyncClient, accounts: Accounts, role: Role
) -> None:
    user = await accounts.make(role)
    await sign_in_page_staff(client, user)
    home = await client.get("/home")
    assert 'data-testid="bell"' in home.text
    assert f'data-user-id="{user.id}"' in home.text
    assert "/static/js/notifications.js" in home.text


async def test_signed_out_pages_have_no_bell(client: httpx.AsyncClient) -> None:
    assert 'data-testid="bell"' not in (await client.get("/login")).text


async def test_the_list_marks_one_and_all_read(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, session: AsyncSession
) -> None:
    patient = await accounts.make(Role.patient)
    await sign_in_page_patient(client, runtime, patient)
    first = await notify(runtime, patient.id, Kind.booking_confirmed)
    await notify(runtime, patient.id, Kind.queue_turn)
    page = await client.get("/notifications")
    assert page.status_code == 200
    assert "Appointment confirmed" in page.text
    assert "It&#39;s your turn" in page.text
    assert "2 unread" in page.text
    token = csrf_from(page.text)
    read = await client.post(f"/notifications/{first}/read", data={"csrf_token": token})
    assert read.status_code == 303
    assert "1 unread" in (await client.get("/notifications")).text
    await client.post("/notifications/read-all", data={"csrf_token": token})
    assert "0 unread" in (await client.get("/notifications")).text
    refused = await client.post("/notifications/read-all", data={"csrf_token": "wrong"})
    assert refused.status_code == 403


async def test_each_notification_links_to_what_it_is_about_at_clinic_time(
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    frozen_clock: FrozenClock,
) -> None:
    patient = await accounts.make(Role.patient)
    await sign_in_page_patient(client, runtime, patient)
    await notify(runtime, patient.id, Kind.booking_confirmed)
    await notify(runtime, patient.id, Kind.queue_turn)
    page = (await client.get("/notifications")).text
    links = re.findall(r'<a href="([^"]+)" class="notification-link"', page)
    assert sorted(links) == ["/appointments", "/queue"]
    # 09:00 UTC is 12:00 in Nairobi, the clinic's zone; no UTC time on the page.
    assert "Mar 2, 2026, 12:00" in page
    assert "UTC" not in page


def test_every_type_leads_somewhere_a_person_can_open() -> None:
    consultation = uuid.uuid4()
    assert target(Kind.chat_message, consultation) == f"/consultations/{consultation}"
    assert target(Kind.consult_ended, None) == "/consultations"
    assert target(Kind.reminder_1h, None) == "/appointments"
    assert target(Kind.weekly_report, None) == "/analytics"
    assert {target(kind, None) for kind in Kind} <= {
        "/appointments",
        "/consultations",
        "/analytics",
        "/queue",
    }


async def test_the_list_block_is_the_viewers_part_of_the_page(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    """What the page swaps in when the bell hears of a change: the list block of the page's
    own template, drawn alone, with the viewer's notifications and nobody else's."""
    patient, other = await accounts.make(Role.patient), await accounts.make(Role.patient)
    await sign_in_page_patient(client, runtime, patient)
    await notify(runtime, patient.id, Kind.booking_confirmed)
    await notify(runtime, other.id, Kind.queue_turn)

    page = await client.get("/notifications")
    fragment = await client.get("/notifications", params={"block": "notification_items"})
    assert fragment.status_code == 200
    assert fragment.headers["content-type"].startswith("text/html")
    text = fragment.text
    assert text.strip().startswith('<div id="notification-items">')
    assert text.strip().endswith("</div>")
    assert "<html" not in text
    assert "site-header" not in text
    assert text.count('data-testid="notification"') == 1
    assert "Appointment confirmed" in text
    assert "It&#39;s your turn" not in text
    assert "1 unread" in text
    assert f'name="csrf_token" value="{client.cookies["cf_csrf"]}"' in text
    assert text.strip() in page.text

    # The page's words follow the page's language; the notification keeps the words it was
    # written in (the recipient's language then).
    client.cookies.set("cf_lang", "sw")
    swahili = await client.get("/notifications", params={"block": "notification_items"})
    assert "1 hazijasomwa" in swahili.text
    assert "Appointment confirmed" in swahili.text


async def test_the_list_block_needs_the_same_sign_in_as_the_page(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    signed_out = await client.get("/notifications", params={"block": "notification_items"})
    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith("/login")
    await sign_in_page_patient(client, runtime, await accounts.make(Role.patient))
    unknown = await client.get("/notifications", params={"block": "content"})
    assert unknown.status_code == 422


async def test_the_preferences_form_saves_choices(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, session: AsyncSession
) -> None:
    patient = await accounts.make(Role.patient)
    await sign_in_page_patient(client, runtime, patient)
    page = await client.get("/notifications/preferences")
    assert page.status_code == 200
    assert 'data-testid="enable-push"' in page.text
    saved = await client.post(
        "/notifications/preferences",
        data={"csrf_token": csrf_from(page.text), "booking_confirmed": ["in_app", "email"]},
    )
    assert saved.status_code == 303
    row = await session.scalar(
        select(Preference).where(
            Preference.user_id == patient.id, Preference.kind == Kind.booking_confirmed
        )
    )
    assert row is not None
    assert row.channels == ["in_app", "email"]
    assert 'data-testid="saved"' in (await client.get(saved.headers["location"])).text


async def test_the_admin_filters_deliveries_and_retries_one(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, session: AsyncSession
) -> None:
    patient = await accounts.make(Role.patient)
    notification_id = await notify(runtime, patient.id, Kind.booking_confirmed)
    async with runtime.transaction() as tx:
        row = await tx.scalar(
            select(Delivery).where(
                Delivery.notification_id == notification_id, Delivery.channel == "sms"
            )
        )
        assert row is not None
        row.status, row.attempts, row.error = DeliveryStatus.gave_up, 8, "twilio 500"
        delivery_id = row.id
    admin = await accounts.make(Role.admin)
    await sign_in_page_staff(client, admin)
    page = await client.get("/admin/deliveries", params={"status": "gave_up", "channel": "sms"})
    assert page.status_code == 200
    assert page.text.count('data-testid="delivery"') == 1
    assert "twilio 500" in page.text
    sent_only = await client.get("/admin/deliveries", params={"status": "sent"})
    assert sent_only.text.count('data-testid="delivery"') == 1  # the in-app copy
    assert 'data-testid="retry"' not in sent_only.text
    retried = await client.post(
        f"/admin/deliveries/{delivery_id}/retry?back=status%3Dgave_up",
        data={"csrf_token": csrf_from(page.text)},
    )
    assert retried.status_code == 303
    assert retried.headers["location"] == "/admin/deliveries?status=gave_up"
    row = await session.get(Delivery, delivery_id, populate_existing=True)
    assert row is not None
    assert (row.status, row.attempts) == (DeliveryStatus.pending, 0)


async def test_only_admins_open_the_delivery_log(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    await sign_in_page_staff(client, await accounts.make(Role.doctor))
    response = await client.get("/admin/deliveries", headers={"Accept": "text/html"})
    assert response.status_code == 403


async def test_the_service_worker_is_served_from_the_root(client: httpx.AsyncClient) -> None:
    response = await client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert "showNotification" in response.text
