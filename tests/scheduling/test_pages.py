"""Booking pages over HTTP: patients hold and book, doctors keep their week, the desk books."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.clock import FrozenClock
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.models import Appointment
from clinicflow.scheduling.schemas import AppointmentStatus, Mode
from tests.factories import Accounts, csrf_from
from tests.factories import sign_in_page_patient as sign_in_patient
from tests.factories import sign_in_page_staff as sign_in_staff

pytestmark = pytest.mark.usefixtures("app")

# The frozen clock stands at Monday 2026-03-02 09:00 UTC, 12:00 in Nairobi.
THIS_WEEK = "2026-03-02"
TUESDAY_9 = "2026-03-03T06:00:00+00:00"  # 09:00 in Nairobi
TUESDAY_915 = "2026-03-03T06:15:00+00:00"
MONDAY_14 = "2026-03-02T11:00:00+00:00"  # 14:00 in Nairobi, two hours from now
MONDAY_15 = "2026-03-02T12:00:00+00:00"
WORKING_DAY = [("08:00", "12:00"), ("14:00", "18:00")]


def slot_values(html: str) -> list[str]:
    return re.findall(r'name="starts_at" value="([^"]+)"', html)


def browser(app: object) -> httpx.AsyncClient:
    """Another browser: its own cookies."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 50000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def hold_and_book(
    client: httpx.AsyncClient, doctor: User, starts_at: str, **fields: str
) -> httpx.Response:
    week = await client.get(f"/book/{doctor.id}", params={"week": THIS_WEEK})
    held = await client.post(
        f"/book/{doctor.id}/hold",
        data={"starts_at": starts_at, "csrf_token": csrf_from(week.text)},
    )
    assert held.status_code == 200, held.text
    return await client.post(
        f"/book/{doctor.id}/confirm",
        data={
            "starts_at": starts_at,
            "mode": "in_person",
            "reason": "",
            "csrf_token": csrf_from(held.text),
            **fields,
        },
    )


async def stored_appointments(session: AsyncSession) -> list[Appointment]:
    return list(await session.scalars(select(Appointment).order_by(Appointment.starts_at)))


@pytest.mark.parametrize("token", [None, "forged-token"])
async def test_booking_forms_without_the_csrf_token_are_refused(
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    doctor: User,
    session: AsyncSession,
    token: str | None,
) -> None:
    patient = await accounts.make(Role.patient)
    await sign_in_patient(client, runtime, patient)
    await client.get(f"/book/{doctor.id}")
    data = {"starts_at": TUESDAY_9, "mode": "online"}
    if token:
        data["csrf_token"] = token
    for path in (f"/book/{doctor.id}/hold", f"/book/{doctor.id}/confirm"):
        response = await client.post(path, data=data, headers={"accept": "text/html"})
        assert response.status_code == 403, path
    cancel = await client.post(f"/appointments/{uuid.uuid4()}/cancel", data=data)
    assert cancel.status_code == 403
    assert cancel.json()["error"]["code"] == "csrf_failed"
    assert await stored_appointments(session) == []


async def test_a_patient_holds_and_books_through_the_pages(
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    doctor: User,
    session: AsyncSession,
) -> None:
    patient = await accounts.make(Role.patient)
    await sign_in_patient(client, runtime, patient)

    home = await client.get("/home")
    assert 'href="/book"' in home.text
    assert 'href="/appointments"' in home.text
    directory = await client.get("/book", params={"q": "amani"})
    assert f'href="/book/{doctor.id}"' in directory.text
    nobody = await client.get("/book", params={"q": "cardiology-nobody"})
    assert f'href="/book/{doctor.id}"' not in nobody.text

    week = await client.get(f"/book/{doctor.id}")
    assert week.status_code == 200
    assert "Africa/Nairobi (UTC+03:00)" in week.text
    free = slot_values(week.text)
    assert TUESDAY_9 in free
    # Monday morning has passed (it is noon in Nairobi); the afternoon is still open.
    assert "2026-03-02T05:00:00+00:00" not in free
    assert MONDAY_14 in free
    assert 'data-date="2026-03-04"' in week.text
    assert f'href="/book/{doctor.id}?week=2026-03-09"' in week.text
    assert 'data-testid="previous-week"' not in week.text
    # A week past the calendar's end (its arithmetic overflowed into a 500) is this week.
    for far in ("9999-12-31", "0001-01-01"):
        same = await client.get(f"/book/{doctor.id}", params={"week": far})
        assert same.status_code == 200
        assert slot_values(same.text) == free

    held = await client.post(
        f"/book/{doctor.id}/hold",
        data={"starts_at": TUESDAY_9, "csrf_token": csrf_from(week.text)},
    )
    assert held.status_code == 200
    assert "Tuesday 3 March 2026, 09:00–09:15" in held.text
    assert "for 5 minutes, until 12:05." in held.text
    assert 'name="mode" value="online"' in held.text

    async def confirm(reason: str, **extra: str) -> httpx.Response:
        """Tuesday 9:00, online, from the confirm form the hold showed."""
        data = {"starts_at": TUESDAY_9, "mode": "online", "reason": reason, **extra}
        return await client.post(
            f"/book/{doctor.id}/confirm", data={**data, "csrf_token": csrf_from(held.text)}
        )

    # A refused reason shows the confirm page again; a held-until time the form should
    # not carry (one UTC cannot hold overflowed into a 500) shows the slot's start instead.
    for until in ("0001-01-01T00:00:00+00:01", "not a time"):
        again = await confirm("A cough\x00", held_until=until)
        assert again.status_code == 422
        assert "Tuesday 3 March 2026, 09:00–09:15" in again.text

    booked = await confirm("A cough for a week")
    assert booked.status_code == 303
    assert booked.headers["location"].startswith("/appointments?booked=")

    listing = await client.get(booked.headers["location"])
    assert "Your appointment is booked." in listing.text
    assert "09:00–09:15" in listing.text
    assert "Dr. Amani Otieno" in listing.text
    assert "A cough for a week" in listing.text
    [appointment] = await stored_appointments(session)
    assert appointment.patient_id == patient.id
    assert appointment.mode is Mode.online
    assert appointment.starts_at.isoformat() == TUESDAY_9
    assert f'action="/appointments/{appointment.id}/cancel"' in listing.text


async def test_the_week_view_hides_a_booked_slot_and_a_taken_one_is_explained(
    app: object,
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    doctor: User,
) -> None:
    first = await accounts.make(Role.patient)
    await sign_in_patient(client, runtime, first)
    assert (await hold_and_book(client, doctor, TUESDAY_9)).status_code == 303

    async with browser(app) as other:
        second = await accounts.make(Role.patient)
        await sign_in_patient(other, runtime, second)
        week = await other.get(f"/book/{doctor.id}", params={"week": THIS_WEEK})
        free = slot_values(week.text)
        assert TUESDAY_9 not in free
        assert TUESDAY_915 in free
        # A stale page still offers the time: taking it says so and shows the week again.
        taken = await other.post(
            f"/book/{doctor.id}/hold",
            data={"starts_at": TUESDAY_9, "csrf_token": csrf_from(week.text)},
        )
        assert taken.status_code == 409
        assert "Someone else has just taken that time" in taken.text
        assert 'data-testid="form-error"' in taken.text
        assert TUESDAY_915 in slot_values(taken.text)

        # A time another patient holds is hidden too, and cannot be booked past the hold.
        held = await other.post(
            f"/book/{doctor.id}/hold",
            data={"starts_at": TUESDAY_915, "csrf_token": csrf_from(week.text)},
        )
        assert held.status_code == 200
    week_for_first = await client.get(f"/book/{doctor.id}", params={"week": THIS_WEEK})
    assert TUESDAY_915 not in slot_values(week_for_first.text)
    refused = await client.post(
        f"/book/{doctor.id}/confirm",
        data={
            "starts_at": TUESDAY_915,
            "mode": "in_person",
            "csrf_token": csrf_from(week_for_first.text),
        },
    )
    assert refused.status_code == 409
    assert "Someone else has just taken that time" in refused.text
    assert 'data-testid="week"' in refused.text


async def test_cancelling_shows_too_late_to_change_clearly(
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    doctor: User,
    frozen_clock: FrozenClock,
    session: AsyncSession,
) -> None:
    patient = await accounts.make(Role.patient)
    await sign_in_patient(client, runtime, patient)
    assert (await hold_and_book(client, doctor, MONDAY_14)).status_code == 303
    assert (await hold_and_book(client, doctor, MONDAY_15)).status_code == 303
    soon, later = await stored_appointments(session)

    frozen_clock.advance(minutes=90)  # 30 minutes before 14:00, inside the 60-minute window
    listing = await client.get("/appointments")
    refused = await client.post(
        f"/appointments/{soon.id}/cancel", data={"csrf_token": csrf_from(listing.text)}
    )
    assert refused.status_code == 409
    assert "Appointments can be changed until 60 minutes before they start." in refused.text
    assert 'data-testid="form-error"' in refused.text

    cancelled = await client.post(
        f"/appointments/{later.id}/cancel", data={"csrf_token": csrf_from(listing.text)}
    )
    assert cancelled.status_code == 303
    after = await client.get(cancelled.headers["location"])
    assert "The appointment is cancelled." in after.text
    await session.refresh(soon)
    await session.refresh(later)
    assert soon.status is AppointmentStatus.booked
    assert later.status is AppointmentStatus.cancelled


async def test_a_doctor_saves_a_week_and_sees_an_overlap_next_to_the_day(
    client: httpx.AsyncClient, accounts: Accounts, frozen_clock: FrozenClock
) -> None:
    doctor = await accounts.make(Role.doctor, profile={"timezone": "Africa/Nairobi"})
    await sign_in_staff(client, doctor)
    page = await client.get("/schedule")
    assert page.status_code == 200
    assert 'value="Africa/Nairobi"' in page.text
    form = {
        "csrf_token": csrf_from(page.text),
        "timezone": "Africa/Nairobi",
        "slot_minutes": "20",
        "weekly_mon": "09:00–12:00, 11:00-13:00",
        "weekly_tue": "09:00-12:00",
        "exceptions": "2026-03-10\n2026-03-11 10:00-11:00",
    }
    overlap = await client.post("/schedule", data=form)
    assert overlap.status_code == 422
    error = re.search(r'data-testid="field-error-weekly_mon">([^<]+)<', overlap.text)
    assert error, overlap.text
    assert error.group(1) == "Intervals on the same day must not overlap."
    assert 'name="weekly_mon" value="09:00–12:00, 11:00-13:00"' in overlap.text
    assert 'data-testid="field-error-weekly_tue"' not in overlap.text

    garbled = await client.post("/schedule", data={**form, "weekly_mon": "nine to five"})
    assert garbled.status_code == 422
    assert 'data-testid="field-error-weekly_mon"' in garbled.text
    zone = await client.post("/schedule", data={**form, "timezone": "Mars/Olympus_Mons"})
    assert zone.status_code == 422
    assert 'data-testid="field-error-timezone"' in zone.text

    saved = await client.post("/schedule", data={**form, "weekly_mon": "08:00 - 12:00"})
    assert saved.status_code == 303
    assert saved.headers["location"] == "/schedule?saved=1"
    shown = await client.get("/schedule?saved=1")
    assert 'data-testid="notice"' in shown.text
    assert 'name="weekly_mon" value="08:00–12:00"' in shown.text
    assert 'name="weekly_wed" value=""' in shown.text
    assert 'value="20"' in shown.text
    assert "2026-03-10\n2026-03-11 10:00–11:00" in shown.text
    slots = await client.get(
        f"/api/doctors/{doctor.id}/slots",
        params={"from": "2026-03-03T00:00:00+00:00", "to": "2026-03-04T00:00:00+00:00"},
    )
    assert len(slots.json()["slots"]) == 9  # Tuesday 09:00–12:00 in 20-minute slots


async def test_a_doctor_lists_their_day_and_week(
    app: object,
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    doctor: User,
) -> None:
    patient = await accounts.make(Role.patient, name="Neema Achieng")
    async with browser(app) as patient_browser:
        await sign_in_patient(patient_browser, runtime, patient)
        assert (await hold_and_book(patient_browser, doctor, TUESDAY_9)).status_code == 303
        assert (await hold_and_book(patient_browser, doctor, MONDAY_14)).status_code == 303

    await sign_in_staff(client, doctor)
    assert 'href="/schedule"' in (await client.get("/home")).text
    today = await client.get("/appointments")
    assert today.status_code == 200
    assert "Monday 2 March 2026" in today.text
    assert "14:00–14:15" in today.text
    assert "09:00–09:15" not in today.text
    assert "Neema Achieng" in today.text
    week = await client.get("/appointments", params={"from": "2026-03-02", "to": "2026-03-08"})
    assert week.text.count('data-testid="day-group"') == 2
    assert "09:00–09:15" in week.text
    tuesday = await client.get("/appointments", params={"from": "2026-03-03", "to": "2026-03-03"})
    assert "14:00–14:15" not in tuesday.text
    assert "09:00–09:15" in tuesday.text


async def test_the_desk_books_for_a_patient(
    client: httpx.AsyncClient,
    accounts: Accounts,
    doctor: User,
    session: AsyncSession,
) -> None:
    patient = await accounts.make(Role.patient, name="Juma Omondi", phone="+254722000111")
    await accounts.make(Role.patient, name="Someone Else", phone="+254733000222")
    receptionist = await accounts.make(Role.receptionist)
    await sign_in_staff(client, receptionist)

    assert 'href="/desk/book"' in (await client.get("/home")).text
    by_phone = await client.get("/desk/book", params={"q": "0722 000 111"})
    assert f'href="/desk/book?patient={patient.id}"' in by_phone.text
    assert "Someone Else" not in by_phone.text
    by_name = await client.get("/desk/book", params={"q": "juma"})
    assert f'href="/desk/book?patient={patient.id}"' in by_name.text

    doctors = await client.get("/desk/book", params={"patient": str(patient.id)})
    assert f"doctor={doctor.id}" in doctors.text
    week = await client.get(
        "/desk/book",
        params={"patient": str(patient.id), "doctor": str(doctor.id), "week": THIS_WEEK},
    )
    assert TUESDAY_9 in slot_values(week.text)
    held = await client.post(
        "/desk/book/hold",
        data={
            "patient_id": str(patient.id),
            "doctor_id": str(doctor.id),
            "starts_at": TUESDAY_9,
            "csrf_token": csrf_from(week.text),
        },
    )
    assert held.status_code == 200
    assert "Juma Omondi" in held.text
    booked = await client.post(
        "/desk/book",
        data={
            "patient_id": str(patient.id),
            "doctor_id": str(doctor.id),
            "starts_at": TUESDAY_9,
            "mode": "in_person",
            "reason": "Follow-up",
            "csrf_token": csrf_from(held.text),
        },
    )
    assert booked.status_code == 303
    done = await client.get(booked.headers["location"])
    assert "Booked." in done.text
    assert "Juma Omondi" in done.text
    [appointment] = await stored_appointments(session)
    assert appointment.patient_id == patient.id
    assert appointment.booked_by_id == receptionist.id
    assert appointment.reason == "Follow-up"

    # The same time again is taken: the desk sees the week with the reason.
    again = await client.post(
        "/desk/book",
        data={
            "patient_id": str(patient.id),
            "doctor_id": str(doctor.id),
            "starts_at": TUESDAY_9,
            "mode": "in_person",
            "csrf_token": csrf_from(held.text),
        },
    )
    assert again.status_code == 409
    assert TUESDAY_915 in slot_values(again.text)


@pytest.mark.parametrize("role", [Role.patient, Role.doctor])
async def test_the_desk_is_for_the_front_desk(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, role: Role
) -> None:
    user = await accounts.make(role)
    if role is Role.patient:
        await sign_in_patient(client, runtime, user)
    else:
        await sign_in_staff(client, user)
    response = await client.get("/desk/book", params={"q": "a"}, headers={"accept": "text/html"})
    assert response.status_code == 403


async def test_the_week_is_in_swahili_for_a_swahili_browser(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, doctor: User
) -> None:
    patient = await accounts.make(Role.patient)
    await sign_in_patient(client, runtime, patient)
    client.cookies.set("cf_lang", "sw")
    week = await client.get(f"/book/{doctor.id}", params={"week": THIS_WEEK})
    assert '<html lang="sw">' in week.text
    assert "Jumanne 3 Machi" in week.text
    assert "Tuesday" not in week.text
    held = await client.post(
        f"/book/{doctor.id}/hold",
        data={"starts_at": TUESDAY_9, "csrf_token": csrf_from(week.text)},
    )
    assert held.status_code == 200
    assert "Tunakuhifadhia muda huu kwa dakika 5, hadi saa 12:05." in held.text
    booked = await client.post(
        f"/book/{doctor.id}/confirm",
        data={"starts_at": TUESDAY_9, "mode": "online", "csrf_token": csrf_from(held.text)},
    )
    listing = await client.get(booked.headers["location"])
    assert "Miadi yako imewekwa." in listing.text
    assert "Imewekwa" in listing.text


async def test_a_patients_cancel_form_carries_the_version_an_offline_cancel_is_sent_against(
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    doctor: User,
    session: AsyncSession,
) -> None:
    patient = await accounts.make(Role.patient)
    await sign_in_patient(client, runtime, patient)
    assert (await hold_and_book(client, doctor, TUESDAY_9)).status_code == 303
    [appointment] = await stored_appointments(session)
    desk = await accounts.make(Role.receptionist)
    async with runtime.transaction() as tx:
        await scheduling.reschedule(
            session=tx,
            settings=runtime.settings,
            actor=desk,
            appointment_id=appointment.id,
            starts_at=datetime.fromisoformat(TUESDAY_915),
        )
    listing = await client.get("/appointments")
    # The page shows the moved appointment (version 2): a cancel kept offline is sent
    # against it, and the sync push answers a conflict if the clinic moves it again.
    assert (
        'data-outbox-form="appointment.cancel" data-outbox-kind="Cancel appointment" '
        f'data-outbox-label="Tuesday 3 March 2026, 09:15–09:30 · Dr. Amani Otieno" '
        f'data-appointment-id="{appointment.id}" data-base-version="2"'
    ) in listing.text
