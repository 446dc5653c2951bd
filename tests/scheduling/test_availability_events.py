"""Live availability: every change that takes or frees a slot is announced on the doctor's
`availability:<id>` topic after it commits, and a follower gets a snapshot, then changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from clinicflow.core import clock
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.realtime import Event
from tests.conftest import Published
from tests.factories import csrf_from, sign_in_page_patient, sign_in_page_staff
from tests.realtime.conftest import Server, connect, serving
from tests.scheduling.clinic import TUESDAY_9, TUESDAY_915, Clinic, at

pytestmark = pytest.mark.usefixtures("app")

# The frozen clock stands at Monday 2026-03-02 09:00 UTC; slots last 15 minutes.
TUESDAY_10 = "2026-03-03T07:00:00+00:00"
THIS_WEEK = ("2026-03-02", "2026-03-06")
CHANGED = "availability.changed"


def change(doctor: User, starts_at: str, *, free: bool) -> dict[str, Any]:
    """The data of `availability.changed` for one 15-minute slot."""
    start = at(starts_at).astimezone(UTC)
    end = start + timedelta(minutes=15)
    return {
        "doctor_id": str(doctor.id),
        "starts_at": start.isoformat().replace("+00:00", "Z"),
        "ends_at": end.isoformat().replace("+00:00", "Z"),
        "free": free,
    }


def changes(events: Published, doctor: User) -> list[dict[str, Any]]:
    """What the doctor's topic has announced so far, in order."""
    return [
        dict(event.data)
        for event in events.of_type(CHANGED)
        if event.topic == f"availability:{doctor.id}"
    ]


async def announced(events: Published, doctor: User, data: dict[str, Any]) -> Event:
    event = await events.wait_for(lambda e: e.type == CHANGED and dict(e.data) == data)
    assert event.topic == f"availability:{doctor.id}"
    assert event.seq is None
    return event


async def hold(clinic: Clinic, headers: dict[str, str], doctor: User, starts_at: str) -> str:
    response = await clinic.client.post(
        "/api/holds", json={"doctor_id": str(doctor.id), "starts_at": starts_at}, headers=headers
    )
    assert response.status_code == 201, response.text
    hold_id: str = response.json()["id"]
    return hold_id


async def booked(clinic: Clinic, headers: dict[str, str], doctor: User, starts_at: str) -> str:
    response = await clinic.book(headers, doctor, starts_at)
    assert response.status_code == 201, response.text
    appointment_id: str = response.json()["id"]
    return appointment_id


# --- what each change announces --------------------------------------------------------------


async def test_a_new_week_is_announced_as_a_schedule_change(
    clinic: Clinic, events: Published
) -> None:
    doctor, _ = await clinic.doctor()
    await announced(events, doctor, {"doctor_id": str(doctor.id), "schedule": True})


async def test_holding_takes_the_slot_and_holding_another_frees_the_first(
    clinic: Clinic, events: Published
) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    await hold(clinic, amina, doctor, TUESDAY_9)
    await announced(events, doctor, change(doctor, TUESDAY_9, free=False))

    # One hold per doctor: her second hold ends the first, which is free again.
    await hold(clinic, amina, doctor, TUESDAY_10)
    await announced(events, doctor, change(doctor, TUESDAY_10, free=False))
    assert changes(events, doctor)[-2:] == [
        change(doctor, TUESDAY_9, free=True),
        change(doctor, TUESDAY_10, free=False),
    ]


async def test_releasing_a_hold_frees_the_slot(clinic: Clinic, events: Published) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    hold_id = await hold(clinic, amina, doctor, TUESDAY_9)
    released = await clinic.client.delete(f"/api/holds/{hold_id}", headers=amina)
    assert released.status_code == 204
    await announced(events, doctor, change(doctor, TUESDAY_9, free=True))


async def test_booking_takes_the_slot_and_cancelling_frees_it(
    clinic: Clinic, events: Published
) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    appointment_id = await booked(clinic, amina, doctor, TUESDAY_9)
    await announced(events, doctor, change(doctor, TUESDAY_9, free=False))

    cancelled = await clinic.client.post(
        f"/api/appointments/{appointment_id}/cancel", headers=amina
    )
    assert cancelled.status_code == 200, cancelled.text
    await announced(events, doctor, change(doctor, TUESDAY_9, free=True))


async def test_booking_a_held_slot_announces_it_taken(clinic: Clinic, events: Published) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    hold_id = await hold(clinic, amina, doctor, TUESDAY_9)
    response = await clinic.book(amina, doctor, TUESDAY_9, hold_id=hold_id)
    assert response.status_code == 201, response.text
    await events.wait_for(lambda _e: len(changes(events, doctor)) >= 3)
    assert changes(events, doctor)[1:] == [
        change(doctor, TUESDAY_9, free=False),  # the hold
        change(doctor, TUESDAY_9, free=False),  # the booking
    ]


async def test_rescheduling_takes_the_new_time_and_frees_the_old(
    clinic: Clinic, events: Published
) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    appointment_id = await booked(clinic, amina, doctor, TUESDAY_9)
    moved = await clinic.client.post(
        f"/api/appointments/{appointment_id}/reschedule",
        json={"starts_at": TUESDAY_10},
        headers=amina,
    )
    assert moved.status_code == 200, moved.text
    await announced(events, doctor, change(doctor, TUESDAY_9, free=True))
    assert changes(events, doctor)[-3:] == [
        change(doctor, TUESDAY_9, free=False),
        change(doctor, TUESDAY_10, free=False),
        change(doctor, TUESDAY_9, free=True),
    ]


async def test_a_refused_booking_announces_nothing(clinic: Clinic, events: Published) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    _, baraka = await clinic.patient()
    await booked(clinic, amina, doctor, TUESDAY_9)
    await announced(events, doctor, change(doctor, TUESDAY_9, free=False))

    taken = await clinic.book(baraka, doctor, TUESDAY_9)
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "slot_taken"
    refused_hold = await clinic.client.post(
        "/api/holds", json={"doctor_id": str(doctor.id), "starts_at": TUESDAY_9}, headers=baraka
    )
    assert refused_hold.status_code == 409
    not_a_slot = await clinic.book(baraka, doctor, "2026-03-03T06:05:00+00:00")
    assert not_a_slot.status_code == 422, not_a_slot.text
    # A later change arrives after anything the refusals could have sent (one publisher,
    # in order), so by then nothing else may have come.
    await booked(clinic, baraka, doctor, TUESDAY_10)
    await announced(events, doctor, change(doctor, TUESDAY_10, free=False))
    assert changes(events, doctor)[-2:] == [
        change(doctor, TUESDAY_9, free=False),
        change(doctor, TUESDAY_10, free=False),
    ]


async def test_a_waitlist_offer_holds_the_freed_slot_and_leaving_frees_it(
    clinic: Clinic, events: Published
) -> None:
    doctor, _ = await clinic.doctor()
    _, waiting = await clinic.patient()
    joined = await clinic.client.post(
        "/api/waitlist",
        json={"doctor_id": str(doctor.id), "from": THIS_WEEK[0], "to": THIS_WEEK[1]},
        headers=waiting,
    )
    assert joined.status_code == 201, joined.text
    _, amina = await clinic.patient()
    appointment_id = await booked(clinic, amina, doctor, TUESDAY_9)
    cancelled = await clinic.client.post(
        f"/api/appointments/{appointment_id}/cancel", headers=amina
    )
    assert cancelled.status_code == 200, cancelled.text
    await announced(events, doctor, change(doctor, TUESDAY_9, free=True))
    # Freed, then at once held for the patient waiting: the last word is "taken".
    await events.wait_for(lambda _e: len(changes(events, doctor)) >= 4)
    assert changes(events, doctor)[-3:] == [
        change(doctor, TUESDAY_9, free=False),
        change(doctor, TUESDAY_9, free=True),
        change(doctor, TUESDAY_9, free=False),
    ]

    # The waiting patient leaves: the slot held for them is free again.
    entry_id = (await clinic.client.get("/api/waitlist", headers=waiting)).json()[0]["id"]
    left = await clinic.client.delete(f"/api/waitlist/{entry_id}", headers=waiting)
    assert left.status_code == 204, left.text
    await events.wait_for(lambda _e: len(changes(events, doctor)) >= 5)
    assert changes(events, doctor)[-1] == change(doctor, TUESDAY_9, free=True)


async def test_a_hold_that_runs_out_announces_nothing(
    clinic: Clinic, events: Published, frozen_clock: clock.FrozenClock
) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    await hold(clinic, amina, doctor, TUESDAY_9)
    await announced(events, doctor, change(doctor, TUESDAY_9, free=False))
    frozen_clock.advance(minutes=6)
    assert "2026-03-03T06:00:00Z" in await clinic.slots(doctor, TUESDAY_9, TUESDAY_10)
    assert changes(events, doctor)[-1] == change(doctor, TUESDAY_9, free=False)


# --- over a real socket ----------------------------------------------------------------------


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[Server]:
    async with serving(app) as running:
        yield running


async def test_a_follower_gets_the_free_slots_then_each_change(
    clinic: Clinic, server: Server, events: Published
) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    _, baraka = await clinic.patient()
    await booked(clinic, baraka, doctor, TUESDAY_915)

    socket = await connect(server, headers=amina)
    [snapshot] = await socket.subscribe(f"availability:{doctor.id}")
    now = clock.now()
    expected = await clinic.client.get(
        f"/api/doctors/{doctor.id}/slots",
        params={"from": now.isoformat(), "to": (now + timedelta(days=31)).isoformat()},
    )
    assert snapshot == {
        "topic": f"availability:{doctor.id}",
        "type": "availability.snapshot",
        "seq": None,
        "data": expected.json(),
    }
    starts = [s["starts_at"] for s in snapshot["data"]["slots"]]
    assert snapshot["data"]["timezone"] == "Africa/Nairobi"
    assert "2026-03-03T06:00:00Z" in starts
    assert "2026-03-03T06:15:00Z" not in starts  # booked
    assert not any(s.startswith("2026-03-04") for s in starts)  # the day off

    # Another patient books while she looks: the change reaches her.
    await booked(clinic, baraka, doctor, TUESDAY_9)
    frame = await socket.until(lambda f: f.get("type") == CHANGED)
    assert frame == {
        "topic": f"availability:{doctor.id}",
        "type": CHANGED,
        "seq": None,
        "data": change(doctor, TUESDAY_9, free=False),
    }
    # Subscribing again (as after a reconnect) sends the snapshot without that time.
    [again] = await socket.subscribe(f"availability:{doctor.id}")
    assert "2026-03-03T06:00:00Z" not in [s["starts_at"] for s in again["data"]["slots"]]
    await socket.close()


async def test_only_an_active_doctors_topic_can_be_followed(clinic: Clinic, server: Server) -> None:
    doctor, _ = await clinic.doctor()
    patient, amina = await clinic.patient()
    receptionist = await clinic.staff(Role.receptionist)
    socket = await connect(server, headers=receptionist)
    assert len(await socket.subscribe(f"availability:{doctor.id}")) == 1
    await socket.close()

    socket = await connect(server, headers=amina)
    missing = "00000000-0000-4000-8000-000000000000"
    for key in (missing, str(patient.id), "not-a-uuid"):
        topic = f"availability:{key}"
        await socket.send(op="subscribe", topic=topic)
        reply = await socket.until(lambda f: f.get("op") == "error")
        assert (reply["topic"], reply["code"]) == (topic, "not_found")
    await socket.close()


async def test_polling_answers_the_snapshot(clinic: Clinic) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    polled = await clinic.client.get(
        "/api/events", params={"topic": f"availability:{doctor.id}"}, headers=amina
    )
    assert polled.status_code == 200, polled.text
    [snapshot] = polled.json()["events"]
    assert snapshot["type"] == "availability.snapshot"
    # 12:00 in Nairobi now; the afternoon opens at 14:00.
    assert snapshot["data"]["slots"][0]["starts_at"] == "2026-03-02T11:00:00Z"
    unknown = await clinic.client.get(
        "/api/events", params={"topic": "availability:not-a-doctor"}, headers=amina
    )
    assert unknown.status_code == 404


# --- the pages that follow it ----------------------------------------------------------------


async def test_the_week_pages_follow_the_doctors_topic(clinic: Clinic) -> None:
    doctor, _ = await clinic.doctor()
    patient = await clinic.accounts.make(Role.patient)
    _, baraka = await clinic.patient()
    await booked(clinic, baraka, doctor, TUESDAY_9)
    await sign_in_page_patient(clinic.client, clinic.runtime, patient)

    page = await clinic.client.get(f"/book/{doctor.id}")
    assert page.status_code == 200
    html = page.text
    assert f'data-availability="availability:{doctor.id}"' in html
    assert f'data-refresh-url="/book/{doctor.id}?week=2026-03-02"' in html
    assert 'data-from="2026-03-01T21:00:00+00:00" data-to="2026-03-08T21:00:00+00:00"' in html
    assert 'data-testid="connection"' in html
    assert html.index("/static/js/realtime.js") < html.index("/static/js/availability.js")

    # A refused hold shows the week again on the form's POST address: the page still
    # fetches its week from the week's own address.
    refused = await clinic.client.post(
        f"/book/{doctor.id}/hold", data={"starts_at": TUESDAY_9, "csrf_token": csrf_from(html)}
    )
    assert refused.status_code == 409
    assert f'data-refresh-url="/book/{doctor.id}?week=2026-03-02"' in refused.text


async def test_the_desk_week_follows_the_doctors_topic(clinic: Clinic) -> None:
    doctor, _ = await clinic.doctor()
    patient = await clinic.accounts.make(Role.patient)
    receptionist = await clinic.accounts.make(Role.receptionist)
    await sign_in_page_staff(clinic.client, receptionist)

    page = await clinic.client.get(
        "/desk/book", params={"patient": str(patient.id), "doctor": str(doctor.id)}
    )
    assert page.status_code == 200
    assert f'data-availability="availability:{doctor.id}"' in page.text
    url = f"/desk/book?patient={patient.id}&amp;doctor={doctor.id}&amp;week=2026-03-02"
    assert f'data-refresh-url="{url}"' in page.text
    assert page.text.index("/static/js/realtime.js") < page.text.index("/static/js/availability.js")


async def test_the_week_block_is_the_weeks_part_of_the_page_alone(clinic: Clinic) -> None:
    """What availability.js fetches on a change: the page's own week, drawn by the server
    from the page's template (`?block=week_grid`), for whoever may see the page."""
    doctor, _ = await clinic.doctor()
    patient = await clinic.accounts.make(Role.patient)
    _, baraka = await clinic.patient()
    await booked(clinic, baraka, doctor, TUESDAY_9)
    await sign_in_page_patient(clinic.client, clinic.runtime, patient)
    path, week = f"/book/{doctor.id}", {"week": "2026-03-02"}

    page = await clinic.client.get(path, params=week)
    block = await clinic.client.get(path, params={**week, "block": "week_grid"})
    assert block.status_code == 200
    assert block.headers["content-type"].startswith("text/html")
    fragment = block.text
    assert fragment.startswith('<div id="week-grid" data-testid="week-grid"')
    assert fragment.endswith("</div>")
    assert fragment in page.text  # exactly the part of the page it stands for
    assert 'data-testid="slot"' in fragment
    assert 'value="2026-03-03T06:00:00+00:00"' not in fragment  # booked
    assert 'value="2026-03-03T06:15:00+00:00"' in fragment
    assert f'name="csrf_token" value="{csrf_from(page.text)}"' in fragment
    for rest_of_the_page in ("<html", "data-availability", "waitlist-form", "<script"):
        assert rest_of_the_page not in fragment
    clinic.client.cookies.set("cf_lang", "sw")  # in the reader's language, like the page
    swahili = await clinic.client.get(path, params={**week, "block": "week_grid"})
    assert "Jumanne 3 Machi" in swahili.text
    assert "Tuesday" not in swahili.text

    unknown = await clinic.client.get(
        path, params={**week, "block": "everything"}, headers={"accept": "text/html"}
    )
    assert unknown.status_code == 422
    missing = await clinic.client.get(
        "/book/00000000-0000-4000-8000-000000000000", params={"block": "week_grid"}
    )
    assert missing.status_code == 404

    # The same access as the page: signed out, both send the browser to sign in.
    clinic.client.cookies.clear()
    signed_out = await clinic.client.get(path, params=week)
    signed_out_block = await clinic.client.get(path, params={**week, "block": "week_grid"})
    assert signed_out_block.status_code == signed_out.status_code == 303
    assert signed_out_block.headers["location"].startswith("/login")


async def test_the_desk_week_block_is_for_the_front_desk_alone(clinic: Clinic) -> None:
    doctor, _ = await clinic.doctor()
    patient = await clinic.accounts.make(Role.patient)
    receptionist = await clinic.accounts.make(Role.receptionist)
    await sign_in_page_staff(clinic.client, receptionist)
    week = {"patient": str(patient.id), "doctor": str(doctor.id), "week": "2026-03-02"}

    page = await clinic.client.get("/desk/book", params=week)
    block = await clinic.client.get("/desk/book", params={**week, "block": "week_grid"})
    assert block.status_code == 200
    assert block.text.startswith('<div id="week-grid"')
    assert block.text in page.text
    assert f'name="patient_id" value="{patient.id}"' in block.text  # the desk's own form
    assert "desk-steps" not in block.text
    # Before a doctor is chosen, the desk shows no week to give.
    no_week = await clinic.client.get(
        "/desk/book", params={"patient": str(patient.id), "block": "week_grid"}
    )
    assert no_week.status_code == 404

    clinic.client.cookies.clear()
    await sign_in_page_patient(clinic.client, clinic.runtime, patient)
    refused_page = await clinic.client.get("/desk/book", params=week)
    refused_block = await clinic.client.get("/desk/book", params={**week, "block": "week_grid"})
    assert refused_block.status_code == refused_page.status_code == 403
    assert "week-grid" not in refused_block.text


async def test_only_patients_are_offered_the_waitlist_on_the_week(clinic: Clinic) -> None:
    doctor, _ = await clinic.doctor()
    receptionist = await clinic.accounts.make(Role.receptionist)
    await sign_in_page_staff(clinic.client, receptionist)
    staff_week = await clinic.client.get(f"/book/{doctor.id}")
    assert staff_week.status_code == 200
    assert 'data-testid="waitlist-form"' not in staff_week.text
    clinic.client.cookies.clear()
    await sign_in_page_patient(
        clinic.client, clinic.runtime, await clinic.accounts.make(Role.patient)
    )
    patient_week = await clinic.client.get(f"/book/{doctor.id}")
    assert 'data-testid="waitlist-form"' in patient_week.text
