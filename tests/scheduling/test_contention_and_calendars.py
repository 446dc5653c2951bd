"""Bookings under load and as calendars: exactly one winner of a contested slot, and the
appointment as an iCalendar file or a revocable private feed."""

from __future__ import annotations

import asyncio

import pytest
from icalendar import Calendar

from clinicflow.identity.schemas import Role
from tests.scheduling.clinic import TUESDAY_9, TUESDAY_915, Clinic, at

pytestmark = pytest.mark.usefixtures("app")


# --- concurrency -----------------------------------------------------------------------------


async def test_200_concurrent_bookings_of_one_slot_give_exactly_one(clinic: Clinic) -> None:
    doctor, _ = await clinic.doctor()
    desk = await clinic.staff()
    patients = [await clinic.accounts.make(Role.patient) for _ in range(200)]
    answers = await asyncio.gather(
        *[clinic.book(desk, doctor, TUESDAY_9, patient_id=str(p.id)) for p in patients]
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 199
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"slot_taken"}


async def test_200_concurrent_holds_of_one_slot_give_exactly_one(clinic: Clinic) -> None:
    # One receptionist holding for 200 patients at once: past the hourly budget (tested in
    # tests/notifications/test_throttles.py), and not what this test is about.
    clinic.runtime.settings.holds_per_user_per_hour = 1000
    doctor, _ = await clinic.doctor()
    desk = await clinic.staff()
    patients = [await clinic.accounts.make(Role.patient) for _ in range(200)]
    answers = await asyncio.gather(
        *[
            clinic.client.post(
                "/api/holds",
                json={"doctor_id": str(doctor.id), "starts_at": TUESDAY_9, "patient_id": str(p.id)},
                headers=desk,
            )
            for p in patients
        ]
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 199


# --- calendars -------------------------------------------------------------------------------


async def test_an_appointment_downloads_as_icalendar(clinic: Clinic) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    booked = (await clinic.book(amina, doctor, TUESDAY_9)).json()
    response = await clinic.client.get(f"/api/appointments/{booked['id']}.ics", headers=amina)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    (event,) = calendar.walk("VEVENT")
    assert event["uid"] == f"{booked['id']}@clinicflow"
    assert event.decoded("dtstart") == at(TUESDAY_9)
    assert event.decoded("dtend") == at(TUESDAY_915)
    assert doctor.name in str(event["summary"])
    assert "Cough" not in response.text
    _, baraka = await clinic.patient()
    hidden = await clinic.client.get(f"/api/appointments/{booked['id']}.ics", headers=baraka)
    assert hidden.status_code == 404


async def test_a_private_calendar_feed_can_be_revoked(clinic: Clinic) -> None:
    doctor, doctor_headers = await clinic.doctor()
    amina_user, amina = await clinic.patient()
    await clinic.book(amina, doctor, TUESDAY_9)
    created = await clinic.client.post("/api/calendar-feed", headers=doctor_headers)
    assert created.status_code == 201
    path = created.json()["url"].split("http://testserver", 1)[1]
    feed = await clinic.client.get(path)
    assert feed.status_code == 200
    (event,) = Calendar.from_ical(feed.content).walk("VEVENT")
    assert amina_user.name in str(event["summary"])

    renewed = await clinic.client.post("/api/calendar-feed", headers=doctor_headers)
    assert (await clinic.client.get(path)).status_code == 404
    new_path = renewed.json()["url"].split("http://testserver", 1)[1]
    assert (await clinic.client.get(new_path)).status_code == 200
    await clinic.client.delete("/api/calendar-feed", headers=doctor_headers)
    assert (await clinic.client.get(new_path)).status_code == 404
    assert (await clinic.client.get("/calendar/not-a-token.ics")).status_code == 404
