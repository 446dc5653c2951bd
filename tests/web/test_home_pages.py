"""Each role's home page shows its figures, drawn whole and as the live block alone; the
patient moves and cancels the next appointment from it; the admin's audit check is cached.

The frozen clock stands at Monday 2026-03-02 09:00 UTC (12:00 in Nairobi)."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationType
from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.notifications.models import Delivery
from clinicflow.notifications.schemas import DeliveryStatus, Kind
from clinicflow.runtime import Runtime
from tests.factories import csrf_from, sign_in_page_patient, sign_in_page_staff
from tests.notifications.helpers import notify
from tests.queue.clinic import AFTERNOON, QueueClinic

pytestmark = pytest.mark.usefixtures("app")


def figure(html: str, testid: str) -> int:
    """The number a figure shows."""
    match = re.search(rf'data-testid="{testid}"[^>]*><strong>(\d+)</strong>', html)
    assert match, testid
    return int(match.group(1))


async def signed_in_patient(
    clinic: QueueClinic, client: httpx.AsyncClient, runtime: Runtime
) -> tuple[User, dict[str, str]]:
    """A patient signed in through the pages; the headers call the API with that cookie."""
    patient = await clinic.accounts.make(Role.patient)
    await sign_in_page_patient(client, runtime, patient)
    return patient, {"X-CSRF-Token": client.cookies["cf_csrf"]}


async def test_the_doctors_home_counts_bookings_waiting_requests_and_missing_notes(
    clinic: QueueClinic, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    doctor, _headers = await clinic.doctor()
    desk = await clinic.front_desk()
    await clinic.booked_and_checked_in(desk, doctor, AFTERNOON[0])
    patient, patient_headers = await clinic.patient()
    assert (await clinic.book(patient_headers, doctor, AFTERNOON[4])).status_code == 201
    assert (await clinic.walk_in(desk, doctor, "+254700000401")).status_code == 201
    for _ in range(2):
        async with runtime.transaction() as session:
            started = await consultations.start(
                session=session,
                actor=patient,
                max_pending=10,
                doctor_id=doctor.id,
                problem="A rash",
                type=ConsultationType.chat,
            )
    for step in (consultations.accept, consultations.end):
        async with runtime.transaction() as session:
            await step(session=session, actor=doctor, consultation_id=started.id)
    await sign_in_page_staff(client, doctor)
    page = await client.get("/home")
    assert page.status_code == 200
    html = page.text
    assert figure(html, "figure-booked") == 2
    assert figure(html, "figure-waiting") == 2
    assert figure(html, "figure-requests") == 1
    assert figure(html, "figure-unnoted") == 1
    assert f'href="/consultations/{started.id}"' in html
    assert patient.name in html
    assert "14:00" in html
    assert "Africa/Nairobi" in html
    assert f"queue:{doctor.id}:2026-03-02" in html
    assert f"user:{doctor.id}" in html
    fragment = await client.get("/home", params={"block": "home_live"})
    assert fragment.status_code == 200
    # The block alone is exactly the part of the page it wraps.
    assert fragment.text.strip().startswith('<div class="home-live"')
    assert fragment.text.strip() in html
    assert "<html" not in fragment.text


async def test_the_patients_home_shows_the_next_visit_token_unread_and_prescription(
    clinic: QueueClinic, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    doctor, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    await clinic.open_check_in_early()
    other = await clinic.accounts.make(Role.patient)
    patient, headers = await signed_in_patient(clinic, client, runtime)
    booked = await clinic.book(headers, doctor, AFTERNOON[0])
    assert booked.status_code == 201, booked.text
    checked_in = await client.post(
        "/api/queue/check-in", json={"appointment_id": booked.json()["id"]}, headers=desk
    )
    assert checked_in.status_code == 201, checked_in.text
    entry = checked_in.json()
    await notify(runtime, patient.id, Kind.booking_confirmed)
    html = (await client.get("/home")).text
    assert f"Your token: {entry['token']}" in html
    assert 'data-testid="position"' in html
    assert figure(html, "figure-unread") >= 1
    assert "No prescription yet." in html
    # Checked in: no longer to be moved or cancelled, still shown as the next visit.
    assert 'data-testid="next-appointment"' in html
    assert 'data-testid="cancel-confirm"' not in html
    client.cookies.clear()
    await sign_in_page_patient(client, runtime, other)
    assert 'data-testid="no-next"' in (await client.get("/home")).text


async def test_the_patient_moves_then_cancels_the_next_appointment_from_home(
    clinic: QueueClinic, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    doctor, _ = await clinic.doctor()
    _patient, headers = await signed_in_patient(clinic, client, runtime)
    booked = await clinic.book(headers, doctor, AFTERNOON[8])
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]
    html = (await client.get("/home")).text
    assert f'href="/api/appointments/{appointment_id}.ics"' in html
    assert f'action="/appointments/{appointment_id}/cancel"' in html
    # The times offered are the doctor's free ones, in the clinic's zone.
    offered = re.findall(r'<option value="([^"]+)">', html)
    assert offered
    assert AFTERNOON[8] not in offered
    assert all(value > "2026-03-02T09:00" for value in offered)
    assert "Monday 2 March, 14:15" in html  # 11:15 UTC, on the clinic's clock
    bad = await client.post(
        f"/appointments/{appointment_id}/reschedule",
        data={"starts_at": "not a time", "back": "/home", "csrf_token": csrf_from(html)},
    )
    assert bad.status_code == 422
    assert "Choose one of the times shown." in bad.text
    moved = await client.post(
        f"/appointments/{appointment_id}/reschedule",
        data={"starts_at": AFTERNOON[12], "back": "/home", "csrf_token": csrf_from(html)},
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == "/home?done=rescheduled"
    after = (await client.get(moved.headers["location"])).text
    assert 'data-testid="notice"' in after
    api = await client.get(f"/api/appointments/{appointment_id}", headers=headers)
    assert api.json()["starts_at"].startswith("2026-03-02T14:00")
    calendar = await client.get(f"/api/appointments/{appointment_id}.ics")
    assert calendar.status_code == 200
    assert "BEGIN:VCALENDAR" in calendar.text
    cancelled = await client.post(
        f"/appointments/{appointment_id}/cancel", data={"csrf_token": csrf_from(after)}
    )
    assert cancelled.status_code == 303
    assert 'data-testid="no-next"' in (await client.get("/home")).text


async def test_the_patients_live_block_draws_the_move_form_alone(
    clinic: QueueClinic, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """home.js fetches the live block alone when something changes; the move form in it must
    draw there too (a block drawn alone sees none of the template's top-level imports)."""
    doctor, _ = await clinic.doctor()
    _patient, headers = await signed_in_patient(clinic, client, runtime)
    booked = await clinic.book(headers, doctor, AFTERNOON[8])
    assert booked.status_code == 201, booked.text
    block = await client.get("/home?block=home_live")
    assert block.status_code == 200, block.text
    assert f'action="/appointments/{booked.json()["id"]}/reschedule"' in block.text
    assert "<html" not in block.text


async def test_the_desks_home_shows_every_queue_and_todays_appointments(
    clinic: QueueClinic, client: httpx.AsyncClient
) -> None:
    doctor, _ = await clinic.doctor()
    other, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    await clinic.booked_and_checked_in(desk, doctor, AFTERNOON[0])
    _patient, headers = await clinic.patient()
    assert (await clinic.book(headers, other, AFTERNOON[1])).status_code == 201
    assert (await clinic.walk_in(desk, other, "+254700000402")).status_code == 201
    assert (await clinic.walk_in(desk, other, "+254700000403")).status_code == 201
    receptionist = await clinic.accounts.make(Role.receptionist)
    await sign_in_page_staff(client, receptionist)
    html = (await client.get("/home")).text
    counts = dict(
        re.findall(r'data-doctor="([^"]+)">.*?<strong data-testid="waiting">(\d+)</strong>', html)
    )
    assert counts == {str(doctor.id): "1", str(other.id): "2"}
    assert html.count('data-testid="appointment"') == 2
    assert "Checked in: 1" in html
    assert "Booked: 1" in html
    assert f"availability:{other.id}" in html


async def test_the_admins_home_counts_the_day_and_what_needs_attention(
    clinic: QueueClinic,
    client: httpx.AsyncClient,
    runtime: Runtime,
    frozen_clock: FrozenClock,
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    for phone in ("+254700000404", "+254700000405", "+254700000406"):
        assert (await clinic.walk_in(desk, doctor, phone)).status_code == 201
    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    await clinic.act(doctor_headers, f"entries/{called.json()['id']}/finish")
    admin = await clinic.accounts.make(Role.admin)
    patient = await clinic.accounts.make(Role.patient)
    notification = await notify(runtime, patient.id, Kind.booking_confirmed)
    async with runtime.transaction() as tx:
        row = await tx.scalar(
            select(Delivery).where(
                Delivery.notification_id == notification, Delivery.channel == "sms"
            )
        )
        assert row is not None
        row.status = DeliveryStatus.gave_up
    await sign_in_page_staff(client, admin)
    html = (await client.get("/home")).text
    assert figure(html, "figure-visits") == 3
    assert figure(html, "figure-waiting") == 2
    assert figure(html, "figure-completed") == 1
    assert figure(html, "figure-no-shows") == 0
    assert "1 message not delivered in the last 7 days" in html
    assert "The audit trail is intact" in html

    # Altered behind the product's back: the check is reused for ten minutes, then redone.
    async with runtime.transaction() as tx:
        first = await tx.scalar(select(AuditEntry).order_by(AuditEntry.seq).limit(1))
        assert first is not None
        first.action = "changed.by.hand"
    assert "The audit trail is intact" in (await client.get("/home")).text
    frozen_clock.advance(minutes=11)
    altered = (await client.get("/home", params={"block": "home_live"})).text
    assert "The audit trail was altered at row 1." in altered


async def test_every_role_reaches_its_own_home(
    clinic: QueueClinic, client: httpx.AsyncClient
) -> None:
    words = {
        Role.doctor: "Ready online",
        Role.receptionist: "Queues now",
        Role.admin: "Needs attention",
    }
    for role, heading in words.items():
        user: User = await clinic.accounts.make(role)
        client.cookies.clear()
        await sign_in_page_staff(client, user)
        page = await client.get("/home")
        assert page.status_code == 200
        assert heading in page.text
        for other in set(words.values()) - {heading}:
            assert other not in page.text
