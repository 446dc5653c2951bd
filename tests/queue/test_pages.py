"""The queue's pages over HTTP, signed in as a browser would be (session cookie and CSRF):
who sees which page, the desk's walk-in and check-in forms, the patient's waiting room and
check-in code, the arrival page a QR code opens, the doctor's meeting link, and the public
board without names."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from clinicflow.config import Settings
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.models import Role
from clinicflow.queue import service as queues
from clinicflow.runtime import Runtime
from tests.factories import csrf_from, sign_in_page_patient, sign_in_page_staff
from tests.queue.clinic import AFTERNOON, QueueClinic

Browser = Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]
_addresses = itertools.count(10)


@pytest.fixture
def browser(app: FastAPI) -> Browser:
    """Another browser (its own cookies, its own address) on the same app."""

    @asynccontextmanager
    async def open_browser() -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(f"203.0.113.{next(_addresses)}", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client

    return open_browser


def embedded_config(html: str) -> Any:
    """The JSON a page hands to its script."""
    match = re.search(r'<script type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page has no embedded configuration"
    return json.loads(match.group(1))


async def walk_in_form(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    page = await client.get("/desk/queue")
    assert page.status_code == 200, page.text
    return await client.post(
        "/desk/queue/walk-in", data={"csrf_token": csrf_from(page.text), **fields}
    )


async def book_from_browser(client: httpx.AsyncClient, doctor_id: uuid.UUID, starts_at: str) -> str:
    """Book as the browser's signed-in patient (session cookie and CSRF header)."""
    home = await client.get("/home")
    response = await client.post(
        "/api/appointments",
        json={
            "doctor_id": str(doctor_id),
            "starts_at": starts_at,
            "mode": "in_person",
            "reason": "Cough",
        },
        headers={"X-CSRF-Token": csrf_from(home.text)},
    )
    assert response.status_code == 201, response.text
    appointment_id: str = response.json()["id"]
    return appointment_id


async def test_each_role_sees_its_own_queue_page_and_no_other(
    clinic: QueueClinic, browser: Browser, runtime: Runtime
) -> None:
    doctor, _headers = await clinic.doctor()
    receptionist = await clinic.accounts.make(Role.receptionist)
    patient = await clinic.accounts.make(Role.patient)

    async with browser() as nobody:
        for path in ("/queue", "/desk/queue", "/doctor/queue"):
            response = await nobody.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"] == f"/login?next={path}"
        board = await nobody.get("/board")
        assert board.status_code == 200
        assert 'data-testid="board"' in board.text

    async def pages_for(client: httpx.AsyncClient) -> dict[str, int]:
        paths = ("/queue", "/desk/queue", "/doctor/queue")
        return {
            path: (await client.get(path, headers={"accept": "text/html"})).status_code
            for path in paths
        }

    async with browser() as client:
        await sign_in_page_patient(client, runtime, patient)
        assert await pages_for(client) == {"/queue": 200, "/desk/queue": 403, "/doctor/queue": 403}
        assert 'href="/queue"' in (await client.get("/home")).text
    async with browser() as client:
        await sign_in_page_staff(client, receptionist)
        assert await pages_for(client) == {"/queue": 403, "/desk/queue": 200, "/doctor/queue": 403}
        assert 'href="/desk/queue"' in (await client.get("/home")).text
    async with browser() as client:
        await sign_in_page_staff(client, doctor)
        assert await pages_for(client) == {"/queue": 403, "/desk/queue": 403, "/doctor/queue": 200}
        page = await client.get("/doctor/queue")
        [queue] = embedded_config(page.text)["queues"]
        assert queue["topic"] == f"queue:{doctor.id}:2026-03-02"
        assert 'href="/doctor/queue"' in (await client.get("/home")).text


async def test_the_walk_in_form_gives_a_token_and_the_desk_sees_it(
    clinic: QueueClinic, browser: Browser
) -> None:
    doctor, _headers = await clinic.doctor()
    receptionist = await clinic.accounts.make(Role.receptionist)
    async with browser() as desk:
        await sign_in_page_staff(desk, receptionist)
        forged = await desk.post(
            "/desk/queue/walk-in",
            data={"doctor_id": str(doctor.id), "phone": "+254700000301", "name": "Baraka"},
        )
        assert forged.status_code == 403

        bad = await walk_in_form(
            desk, doctor_id=str(doctor.id), phone="not a phone", name="Baraka Mwangi"
        )
        assert bad.status_code == 422
        assert 'data-testid="form-error"' in bad.text
        assert 'value="Baraka Mwangi"' in bad.text  # the form keeps what was typed

        made = await walk_in_form(
            desk,
            doctor_id=str(doctor.id),
            phone="+254700000301",
            name="Baraka Mwangi",
            severity="urgent",
            patient_type="elderly",
        )
        assert made.status_code == 303, made.text
        assert made.headers["location"].startswith("/desk/queue?done=")
        receipt = await desk.get(made.headers["location"])
        assert 'data-testid="receipt"' in receipt.text
        assert "Token 1 for Baraka Mwangi" in receipt.text

        config = embedded_config(receipt.text)
        [queue] = [q for q in config["queues"] if q["doctor_id"] == str(doctor.id)]
        [entry] = queue["queue"]["entries"]
        assert (
            entry["token"],
            entry["patient_name"],
            entry["severity"],
            entry["patient_type"],
        ) == (
            1,
            "Baraka Mwangi",
            "urgent",
            "elderly",
        )
        assert queue["queue"]["order"] == [1]

        again = await walk_in_form(
            desk, doctor_id=str(doctor.id), phone="+254700000301", name="Baraka Mwangi"
        )
        assert again.status_code == 409
        assert "already has a place" in again.text


async def test_a_patient_checks_in_from_the_waiting_room_and_sees_their_token(
    clinic: QueueClinic,
    browser: Browser,
    runtime: Runtime,
    settings: Settings,
    frozen_clock: FrozenClock,
) -> None:
    doctor, _headers = await clinic.doctor()
    patient = await clinic.accounts.make(Role.patient)

    async with browser() as phone:
        await sign_in_page_patient(phone, runtime, patient)
        # 14:00 in Nairobi; it is 12:00 there now.
        appointment_id = await book_from_browser(phone, doctor.id, AFTERNOON[0])
        code = queues.check_in_code(settings, uuid.UUID(appointment_id))
        room = await phone.get("/queue")
        assert room.status_code == 200
        assert 'data-testid="check-in"' in room.text
        assert code in room.text
        assert '<svg class="qr"' in room.text

        # Two hours early: the clinic's window (60 minutes) is not open yet.
        early = await phone.post(
            "/queue/check-in",
            data={"appointment_id": appointment_id, "csrf_token": csrf_from(room.text)},
        )
        assert early.status_code == 409
        assert "Check-in opens 60 minutes before your appointment." in early.text

        frozen_clock.advance(minutes=75)
        checked_in = await phone.post(
            "/queue/check-in",
            data={"appointment_id": appointment_id, "csrf_token": csrf_from(room.text)},
        )
        assert (checked_in.status_code, checked_in.headers["location"]) == (303, "/queue")
        room = await phone.get("/queue")
        assert 'data-testid="place"' in room.text
        assert 'data-testid="check-in"' not in room.text
        [place] = embedded_config(room.text)["places"]
        assert (place["token"], place["status"], place["position"]) == (1, "waiting", 0)
        assert place["topic"] == f"queue:{doctor.id}:2026-03-02"
        assert place["queue"]["order"] == [1]


async def test_the_arrival_page_checks_a_patient_in_by_code(
    clinic: QueueClinic, browser: Browser, settings: Settings
) -> None:
    doctor, _headers = await clinic.doctor()
    patient, headers = await clinic.patient()
    booked = await clinic.book(headers, doctor, AFTERNOON[2])
    code = queues.check_in_code(settings, uuid.UUID(booked.json()["id"]))
    receptionist = await clinic.accounts.make(Role.receptionist)

    async with browser() as nobody:
        response = await nobody.get(f"/queue/arrive?code={code}")
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next=/queue/arrive%3Fcode%3D{code}"

    async with browser() as desk:
        await sign_in_page_staff(desk, receptionist)
        form = await desk.get(f"/queue/arrive?code={code}")
        assert form.status_code == 200
        assert f'value="{code}"' in form.text
        wrong = await desk.post(
            "/queue/arrive", data={"code": "ZZZZZZ", "csrf_token": csrf_from(form.text)}
        )
        assert wrong.status_code == 404
        done = await desk.post(
            "/queue/arrive", data={"code": code.lower(), "csrf_token": csrf_from(form.text)}
        )
        assert done.status_code == 200, done.text
        assert f"Token 1 for {patient.name}, with {doctor.name}." in done.text
        # The desk's page has nobody left to check in, and the queue has the patient.
        page = await desk.get("/desk/queue")
        assert 'data-testid="no-appointments"' in page.text
        [queue] = [
            q for q in embedded_config(page.text)["queues"] if q["doctor_id"] == str(doctor.id)
        ]
        assert [e["patient_name"] for e in queue["queue"]["entries"]] == [patient.name]


async def test_the_doctor_sets_the_meeting_link_from_the_page(
    clinic: QueueClinic, browser: Browser
) -> None:
    doctor, _headers = await clinic.doctor()
    async with browser() as client:
        await sign_in_page_staff(client, doctor)
        page = await client.get("/doctor/queue")
        bad = await client.post(
            "/doctor/queue/meet-link",
            data={"meet_url": "https://example.com/call", "csrf_token": csrf_from(page.text)},
        )
        assert bad.status_code == 422
        assert "https://example.com/call" in bad.text
        saved = await client.post(
            "/doctor/queue/meet-link",
            data={
                "meet_url": "https://meet.google.com/abc-defg-hij",
                "csrf_token": csrf_from(page.text),
            },
        )
        assert (saved.status_code, saved.headers["location"]) == (303, "/doctor/queue?told=0")
        again = await client.get(saved.headers["location"])
        assert 'value="https://meet.google.com/abc-defg-hij"' in again.text
        assert 'data-testid="meet-link-saved"' in again.text


async def test_the_board_shows_serving_tokens_and_no_patient_names(
    clinic: QueueClinic, browser: Browser, settings: Settings
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    for n, name in enumerate(("Zawadi Kiprono", "Juma Odhiambo")):
        made = await clinic.walk_in(desk, doctor, f"+25470000040{n}", name=name)
        assert made.status_code == 201, made.text
    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert called.status_code == 200, called.text

    async with browser() as screen:
        board = await screen.get("/board")
    assert board.status_code == 200
    assert doctor.name in board.text
    assert "Zawadi" not in board.text
    assert "Juma" not in board.text
    [row] = embedded_config(board.text)["rows"]
    assert (row["serving_token"], row["waiting_count"]) == (1, 1)
    assert 'data-testid="board-serving">1<' in board.text
    # Its QR code opens the arrival page on the clinic's public address.
    assert settings.public_url.rstrip("/") + "/queue/arrive" in board.text
    assert "<svg" in board.text
