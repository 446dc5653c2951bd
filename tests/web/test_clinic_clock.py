"""Every time a page or a notification shows is on the clinic's clock, in the reader's
language, 24-hour: the doctor's chart, the doctor's queue, the deliveries log, the audit
log, the notifications and a booking's text.

The clinic here is in Asia/Kolkata (UTC+05:30), which is neither UTC nor the doctor's
Africa/Nairobi (UTC+03:00), so each of the three clocks gives a different time: the frozen
clock's 09:00 UTC is 14:30 at the clinic and 12:00 on the doctor's week. The booking pages
too: only the doctor's weekly-hours editor keeps the doctor's zone.
"""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from clinicflow.config import Settings
from clinicflow.identity.schemas import Role
from clinicflow.notifications.models import Notification
from clinicflow.notifications.schemas import Kind
from clinicflow.runtime import Runtime
from tests.factories import Accounts, csrf_from, sign_in_page_patient, sign_in_page_staff
from tests.notifications.helpers import notify
from tests.queue.clinic import AFTERNOON, QueueClinic
from tests.records.clinic import RecordsClinic
from tests.scheduling.clinic import TUESDAY_9
from tests.web.tour import browser

pytestmark = pytest.mark.usefixtures("app", "frozen_clock")

ZONE = "Asia/Kolkata"
UTC_CLOCK, DOCTOR_CLOCK, CLINIC_CLOCK = "09:00", "12:00", "14:30"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"clinic_timezone": ZONE})


def text(html: str) -> str:
    """What a person reads: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def read_in(client: httpx.AsyncClient, language: str, path: str) -> str:
    client.cookies.set("cf_lang", language)
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return text(response.text)


async def in_swahili(client: httpx.AsyncClient, path: str) -> str:
    return await read_in(client, "sw", path)


async def in_english(client: httpx.AsyncClient, path: str) -> str:
    return await read_in(client, "en", path)


def assert_only_the_clinics_clock(page: str) -> None:
    assert CLINIC_CLOCK in page
    assert UTC_CLOCK not in page
    assert DOCTOR_CLOCK not in page
    assert not re.search(r"\d [AP]M\b", page)


async def test_the_doctors_queue_says_when_the_patient_was_called_on_the_clinics_clock(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    clinic = QueueClinic(client, accounts, runtime)
    doctor, doctor_headers = await clinic.doctor()
    walked = await clinic.walk_in(await clinic.front_desk(), doctor, "+254712000611")
    assert walked.status_code == 201, walked.text
    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert called.status_code == 200, called.text
    await sign_in_page_staff(client, doctor)

    english = await in_english(client, "/doctor/queue")
    assert f"Called at {CLINIC_CLOCK}" in english
    assert f"Called at {DOCTOR_CLOCK}" not in english
    assert f"Aliitwa saa {CLINIC_CLOCK}" in await in_swahili(client, "/doctor/queue")


async def test_the_chart_shows_visits_and_prescriptions_on_the_clinics_clock(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, settings: Settings
) -> None:
    clinic = RecordsClinic(client, accounts, runtime, settings)
    patient = await clinic.patient()
    doctor = await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    assert (await clinic.note(doctor, visit.id)).status_code == 200
    assert (await clinic.prescribe(doctor, visit.id)).status_code == 201
    await sign_in_page_staff(client, doctor.user)
    chart = f"/patients/{patient.id}/chart"

    english = await in_english(client, chart)
    assert f"Mar 2, 2026, {CLINIC_CLOCK}" in english
    assert_only_the_clinics_clock(english)
    # Swahili: the month's own word, the 24-hour clock.
    swahili = await in_swahili(client, chart)
    assert f"2 Mac 2026 {CLINIC_CLOCK}" in swahili
    assert_only_the_clinics_clock(swahili)


async def test_the_admins_logs_are_on_the_clinics_clock(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    patient = await accounts.make(Role.patient)
    await notify(runtime, patient.id, Kind.queue_turn)  # an SMS delivery, in the log
    admin = await accounts.make(Role.admin)
    await sign_in_page_staff(client, admin)

    for path in ("/admin/deliveries", "/admin/audit"):
        english = await in_english(client, path)
        assert f"Mar 2, 2026, {CLINIC_CLOCK}:00" in english, path
        assert_only_the_clinics_clock(english)
        swahili = await in_swahili(client, path)
        assert f"2 Mac 2026 {CLINIC_CLOCK}:00" in swahili, path
        assert_only_the_clinics_clock(swahili)


async def test_a_swahili_patient_reads_a_booking_on_the_clinics_clock(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    """The booking's text is written in the patient's language with the clinic's time
    (AFTERNOON[0] is 11:00 UTC: 16:30 at the clinic, 14:00 on the doctor's week), and the
    notifications page shows when it came, on the same clock."""
    clinic = QueueClinic(client, accounts, runtime)
    doctor, _headers = await clinic.doctor()
    user = await accounts.make(Role.patient, profile={"preferred_language": "sw"})
    await sign_in_page_patient(client, runtime, user)
    home = await client.get("/home")
    booked = await client.post(
        "/api/appointments",
        json={
            "doctor_id": str(doctor.id),
            "starts_at": AFTERNOON[0],
            "mode": "in_person",
            "reason": "Cough",
        },
        headers={"X-CSRF-Token": csrf_from(home.text)},
    )
    assert booked.status_code == 201, booked.text

    async with runtime.transaction() as session:
        bodies = list(
            await session.scalars(select(Notification.body).where(Notification.user_id == user.id))
        )
    assert any("tarehe 2 Mac 2026 16:30" in body for body in bodies), bodies
    assert not any("14:00" in body or "11:00" in body for body in bodies), bodies

    assert f"2 Mac 2026 {CLINIC_CLOCK}" in await in_swahili(client, "/notifications")


async def test_the_booking_week_and_the_desks_list_are_on_the_clinics_clock(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, app: FastAPI
) -> None:
    """The doctor's week is written in Nairobi (08:00-12:00 there is 10:30-14:30 at the
    clinic); a patient choosing a time and the desk reading the day both see the clinic's
    clock and its zone named, never the doctor's."""
    clinic = QueueClinic(client, accounts, runtime)
    doctor, _headers = await clinic.doctor()
    _patient, patient_headers = await clinic.patient()
    booked = await clinic.book(patient_headers, doctor, TUESDAY_9)  # 09:00 Nairobi
    assert booked.status_code == 201, booked.text

    await sign_in_page_patient(client, runtime, await accounts.make(Role.patient))
    week_page = await client.get(f"/book/{doctor.id}", params={"week": "2026-03-02"})
    assert week_page.status_code == 200, week_page.text
    week = text(week_page.text)
    assert "Asia/Kolkata (UTC+05:30)" in week
    assert "Africa/Nairobi" not in week
    assert "10:30" in week  # the doctor's 08:00, the first time of the day
    assert "08:00" not in week

    async with browser(app) as front_desk:
        await sign_in_page_staff(front_desk, await accounts.make(Role.receptionist))
        listing = await in_swahili(front_desk, "/appointments?from=2026-03-03&to=2026-03-03")
    assert "11:30–11:45" in listing  # the doctor's 09:00
    assert "09:00" not in listing
    assert "Asia/Kolkata" in listing


async def test_a_waitlist_offer_is_texted_on_the_clinics_clock(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    """Tuesday's 09:00 Nairobi slot (06:00 UTC), freed, is offered as 11:30 at the clinic,
    held until 14:45 (the frozen 09:00 UTC plus the 15-minute hold), naming the clinic's zone."""
    clinic = QueueClinic(client, accounts, runtime)
    doctor, _headers = await clinic.doctor()
    waiting, waiting_headers = await clinic.patient()
    joined = await client.post(
        "/api/waitlist",
        json={"doctor_id": str(doctor.id), "from": "2026-03-03", "to": "2026-03-03"},
        headers=waiting_headers,
    )
    assert joined.status_code == 201, joined.text
    _other, other_headers = await clinic.patient()
    booked = await clinic.book(other_headers, doctor, TUESDAY_9)
    assert booked.status_code == 201, booked.text
    freed = await client.post(
        f"/api/appointments/{booked.json()['id']}/cancel", headers=other_headers
    )
    assert freed.status_code == 200, freed.text

    assert runtime.outbox is not None
    [text] = [
        m.body for m in runtime.outbox.messages() if m.to == waiting.phone and "free time" in m.body
    ]
    assert "Tuesday 3 March at 11:30 (Asia/Kolkata)" in text
    assert "until 14:45" in text
    assert "09:00" not in text
    assert "Africa/Nairobi" not in text


async def test_the_doctors_memory_panel_is_on_the_clinics_clock(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, settings: Settings
) -> None:
    clinic = RecordsClinic(client, accounts, runtime, settings)
    patient = await clinic.patient()
    doctor = await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    kept = await client.post(
        f"/api/consultations/{visit.id}/assistant/memory",
        json={"text": "Allergic to penicillin"},
        headers=doctor.headers,
    )
    assert kept.status_code == 201, kept.text
    await sign_in_page_staff(client, doctor.user)

    panel = await in_swahili(
        client, f"/consultations/{visit.id}/assistant-panel?block=assistant_memory"
    )
    assert "Allergic to penicillin" in panel
    assert_only_the_clinics_clock(panel)
