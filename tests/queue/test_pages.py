"""The queue's pages over HTTP, signed in as a browser would be (session cookie and CSRF):
who sees which page, the desk's walk-in and check-in forms, the patient's waiting room and
check-in code, the arrival page a QR code opens, the doctor's meeting link, and the public
board without names. The desk's, the doctor's and the board's queues are drawn on the first
response and again alone (each page's live block, as a fragment) with the page's own
access, and their controls are forms that work without a script."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from clinicflow import i18n
from clinicflow.config import Settings
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.queue import service as queues
from clinicflow.runtime import Runtime
from tests.factories import csrf_from, latest_code, sign_in_page_patient, sign_in_page_staff
from tests.queue.clinic import AFTERNOON, TODAY, QueueClinic

Browser = Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]
_addresses = itertools.count(10)
_phones = itertools.count(600)


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


VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Element:
    """An element of a page as the browser would build it: enough to read what it shows."""

    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Its text as a person reads it: whitespace collapsed."""
        parts = [c if isinstance(c, str) else c.text for c in self.children]
        return " ".join(" ".join(parts).split())

    def walk(self) -> Iterator[Element]:
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.walk()

    def all(self, testid: str) -> list[Element]:
        return [e for e in self.walk() if e.attrs.get("data-testid") == testid]

    def one(self, testid: str) -> Element:
        [found] = self.all(testid)
        return found

    def classed(self, name: str) -> list[Element]:
        return [e for e in self.walk() if name in e.attrs.get("class", "").split()]

    def where(self, **attrs: str) -> list[Element]:
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        return [e for e in self.walk() if all(e.attrs.get(k) == v for k, v in wanted.items())]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Element("document", {})
        self.open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.open[-1].children.append(element)
        if tag not in VOID:
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.open[-1].children.append(data)


def parse(html: str) -> Element:
    builder = _Builder()
    builder.feed(html)
    return builder.root


def queue_rows(page: Element, doctor_id: uuid.UUID) -> list[Element]:
    """The rows of one doctor's queue as the page draws them."""
    [block] = page.where(data_queue=str(doctor_id))
    return block.all("queue-row")


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
        # The patient's waiting room leads to the phone sign-in; the staff pages to theirs.
        waiting_room = await nobody.get("/queue")
        assert waiting_room.status_code == 303
        assert waiting_room.headers["location"] == "/login/phone"
        for path in ("/desk/queue", "/doctor/queue"):
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
        [queue] = parse(page.text).where(data_live_queue="")
        assert queue.attrs["data-topic"] == f"queue:{doctor.id}:2026-03-02"
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

        [row] = queue_rows(parse(receipt.text), doctor.id)
        assert row.attrs["data-token"] == "1"
        # With its card's actions: the first waiting patient can be called, any cancelled.
        assert row.text == "Token 1 Baraka Mwangi Urgent Elderly Call Cancel"
        [summary] = parse(receipt.text).where(data_queue=str(doctor.id))[0].all("queue-summary")
        assert summary.text == "Nobody has been called yet. · Waiting: 1"

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
        # Two hours early the button says when it opens (13:00 in Nairobi: 60 minutes before
        # the start), instead of offering what would be refused.
        assert "Check-in opens at 13:00." in room.text
        assert 'data-check-in-opens="2026-03-02T10:00:00+00:00"' in room.text

        # Two hours early: the clinic's window (60 minutes) is not open yet.
        early = await phone.post(
            "/queue/check-in",
            data={"appointment_id": appointment_id, "csrf_token": csrf_from(room.text)},
        )
        assert early.status_code == 409
        assert "Check-in opens at 13:00." in early.text

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
    clinic: QueueClinic, browser: Browser, settings: Settings, frozen_clock: FrozenClock
) -> None:
    doctor, _headers = await clinic.doctor()
    await clinic.open_check_in_early()
    patient, headers = await clinic.patient()
    booked = await clinic.book(headers, doctor, AFTERNOON[2])
    code = queues.check_in_code(settings, uuid.UUID(booked.json()["id"]))
    receptionist = await clinic.accounts.make(Role.receptionist)

    async with browser() as nobody:
        # A signed-out scan lands on the patient's phone sign-in, not the staff page, and
        # signing in there brings the patient back to the arrival page with the code kept.
        response = await nobody.get(f"/queue/arrive?code={code}")
        assert response.status_code == 303
        assert response.headers["location"] == "/login/phone"
        frozen_clock.advance(minutes=2)  # past the wait before a second code to one phone
        form = await nobody.get("/login/phone")
        token = csrf_from(form.text)
        await nobody.post("/login/phone", data={"phone": patient.phone, "csrf_token": token})
        signed_in = await nobody.post(
            "/login/phone/verify",
            data={
                "phone": patient.phone,
                "code": latest_code(clinic.runtime, patient.phone),
                "csrf_token": token,
            },
        )
        assert signed_in.status_code == 303, signed_in.text
        assert signed_in.headers["location"] == f"/queue/arrive?code={code}"
        arrived = await nobody.get(signed_in.headers["location"])
        assert arrived.status_code == 200
        assert f'value="{code}"' in arrived.text
        # Used once: the next sign-in goes home as usual.
        assert "cf_next" not in nobody.cookies

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
        rows = queue_rows(parse(page.text), doctor.id)
        assert [row.classed("who")[0].text for row in rows] == [patient.name]


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
    [row] = parse(board.text).all("board-row")
    assert row.text == f"{doctor.name} 1 Waiting: 1"
    assert 'data-testid="board-serving">1<' in board.text
    # Its QR code opens the arrival page where the screen reached the clinic (no public
    # address is configured).
    assert "http://testserver/queue/arrive" in board.text
    assert "<svg" in board.text


async def walk_ins(clinic: QueueClinic, doctor: User, *people: tuple[str, dict[str, str]]) -> None:
    desk = await clinic.front_desk()
    for name, extra in people:
        made = await clinic.walk_in(desk, doctor, f"+254700000{next(_phones)}", name=name, **extra)
        assert made.status_code == 201, made.text


async def test_the_desk_and_the_doctor_draw_the_queue_on_the_first_response(
    clinic: QueueClinic, browser: Browser
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    await walk_ins(
        clinic,
        doctor,
        ("Zawadi Kiprono", {}),
        ("Juma Odhiambo", {"severity": "emergency", "patient_type": "child"}),
        ("Neema Atieno", {"severity": "urgent"}),
    )
    # The emergency is called first; Zawadi is not there when her turn comes.
    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert called.json()["token"] == 2, called.text
    [zawadi] = [
        e for e in (await clinic.queue(doctor, doctor_headers))["entries"] if e["token"] == 1
    ]
    await clinic.act(doctor_headers, f"entries/{zawadi['id']}/no-show")
    receptionist = await clinic.accounts.make(Role.receptionist)

    async with browser() as desk:
        await sign_in_page_staff(desk, receptionist)
        page = (await desk.get("/desk/queue")).text
        assert "Loading" not in page
        [block] = parse(page).where(data_queue=str(doctor.id))
        assert [row.text for row in block.all("queue-row")] == [
            "Token 2 Juma Odhiambo In consultation Emergency Child Call again",
            # Nobody is called while someone is with the doctor.
            "Token 3 Neema Atieno Urgent Cancel",
            "Token 1 Zawadi Kiprono Missed their turn Arrived Cancel",
        ]
        assert block.one("queue-summary").text == "Now serving: 2 · Waiting: 1"
        assert block.attrs["data-revision"] == str(
            (await clinic.queue(doctor, doctor_headers))["revision"]
        )
        # In the reader's language: the enums' labels and the page's words alike.
        desk.cookies.set("cf_lang", "sw")
        swahili = parse((await desk.get("/desk/queue")).text).where(data_queue=str(doctor.id))
        first = swahili[0].all("queue-row")[0].text
        for words in ("Token {token}", "In consultation", "Emergency", "Child"):
            assert i18n.gettext_in("sw", words).format(token=2) in first

    async with browser() as client:
        await sign_in_page_staff(client, doctor)
        page = parse((await client.get("/doctor/queue")).text)
        assert page.one("current-token").text == "2"
        assert page.one("current-name").text == "Juma Odhiambo"
        assert "Called at 12:00" in page.one("current").text  # 09:00 UTC, in Nairobi
        [juma] = [
            e for e in (await clinic.queue(doctor, doctor_headers))["entries"] if e["token"] == 2
        ]
        assert page.one("current-chart").attrs["href"] == f"/patients/{juma['patient_id']}/chart"
        assert [r.text for r in page.one("next-patients").all("queue-row")] == [
            "Token 3 Neema Atieno Urgent No-show"
        ]
        assert [r.text for r in page.one("missed-patients").all("queue-row")] == [
            "Token 1 Zawadi Kiprono Call again"
        ]
        # Every control is a button of a form with the CSRF field, disabled when it cannot act.
        controls = page.one("controls")
        assert controls.tag == "form"
        assert controls.where(name="csrf_token")
        assert "disabled" in page.one("call-next").attrs
        assert (
            page.one("finish").attrs["formaction"] == f"/doctor/queue/entries/{juma['id']}/finish"
        )
        assert "disabled" not in page.one("finish").attrs
        [recall] = page.all("row-recall")
        assert recall.attrs["formaction"] == f"/doctor/queue/entries/{zawadi['id']}/recall"
        [entry_controls] = page.where(id=recall.attrs["form"])
        assert entry_controls.tag == "form"
        assert entry_controls.where(name="csrf_token")


async def test_each_fragment_is_its_block_alone_with_the_access_of_its_page(
    clinic: QueueClinic, browser: Browser, runtime: Runtime
) -> None:
    doctor, _headers = await clinic.doctor()
    await walk_ins(clinic, doctor, ("Zawadi Kiprono", {}))
    receptionist = await clinic.accounts.make(Role.receptionist)
    patient = await clinic.accounts.make(Role.patient)
    desk_fragment = f"/desk/queue/{doctor.id}/fragment"

    async with browser() as desk:
        await sign_in_page_staff(desk, receptionist)
        page = (await desk.get("/desk/queue")).text
        [block] = parse(page).where(data_queue=str(doctor.id))
        assert block.attrs["data-fragment"] == f"{desk_fragment}?date={TODAY}"
        fragment = await desk.get(block.attrs["data-fragment"])
        assert fragment.status_code == 200
        assert fragment.headers["content-type"].startswith("text/html")
        assert fragment.text.startswith('<article class="doctor-queue"')
        assert fragment.text.endswith("</article>")
        assert fragment.text in page  # exactly the part of the page it is
        assert "Zawadi Kiprono" in fragment.text
        # A change shows in the next fragment, with its newer revision.
        await walk_ins(clinic, doctor, ("Juma Odhiambo", {"severity": "urgent"}))
        newer = parse((await desk.get(desk_fragment)).text).where(data_live_queue="")[0]
        assert int(newer.attrs["data-revision"]) > int(block.attrs["data-revision"])
        assert len(newer.all("queue-row")) == 2
        # Not a doctor: the page's not-found; the doctor's own fragment: the page's refusal.
        assert (await desk.get(f"/desk/queue/{uuid.uuid4()}/fragment")).status_code == 404
        assert (await desk.get(f"/desk/queue/{patient.id}/fragment")).status_code == 404
        assert (await desk.get("/doctor/queue/fragment")).status_code == 403

    async with browser() as client:
        await sign_in_page_staff(client, doctor)
        page = (await client.get("/doctor/queue")).text
        [block] = parse(page).where(data_live_queue="")
        fragment = await client.get(block.attrs["data-fragment"])
        assert fragment.status_code == 200
        assert fragment.text.startswith('<section class="doctor-queue"')
        assert fragment.text in page
        assert (await client.get(desk_fragment)).status_code == 403

    async with browser() as client:
        await sign_in_page_patient(client, runtime, patient)
        for path in (desk_fragment, "/doctor/queue/fragment"):
            response = await client.get(path, headers={"accept": "text/html"})
            assert response.status_code == 403, path
            assert "Zawadi" not in response.text

    async with browser() as nobody:
        for path in (desk_fragment, "/doctor/queue/fragment"):
            response = await nobody.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=")
        board = (await nobody.get("/board")).text
        rows = await nobody.get("/board/fragment")
        assert rows.status_code == 200
        assert rows.text.startswith("<div data-board-rows>")
        assert rows.text in board
        assert doctor.name in rows.text
        assert "Zawadi" not in rows.text


async def test_the_doctors_controls_work_as_forms_without_a_script(
    clinic: QueueClinic, browser: Browser
) -> None:
    doctor, _headers = await clinic.doctor()
    await walk_ins(clinic, doctor, ("Zawadi Kiprono", {}), ("Juma Odhiambo", {}))

    async with browser() as client:
        await sign_in_page_staff(client, doctor)
        csrf = csrf_from((await client.get("/doctor/queue")).text)

        async def press(path: str) -> Element:
            """Post a control's form as the browser would, then follow it back."""
            response = await client.post(path, data={"csrf_token": csrf})
            assert (response.status_code, response.headers["location"]) == (303, "/doctor/queue")
            return parse((await client.get("/doctor/queue")).text)

        forged = await client.post("/doctor/queue/call-next")
        assert forged.status_code == 403

        page = await press("/doctor/queue/call-next")
        assert page.one("current-token").text == "1"
        page = await press(page.one("no-show").attrs["formaction"])
        assert page.all("current-token") == []
        assert [r.attrs["data-token"] for r in page.one("missed-patients").all("queue-row")] == [
            "1"
        ]
        page = await press(page.one("row-recall").attrs["formaction"])
        assert page.one("current-token").text == "1"
        page = await press(page.one("finish").attrs["formaction"])
        assert page.all("current-token") == []
        assert [r.attrs["data-token"] for r in page.one("next-patients").all("queue-row")] == ["2"]

        page = await press("/doctor/queue/pause")
        assert page.one("pause").attrs["formaction"] == "/doctor/queue/resume"
        assert page.one("pause").text == "Resume"
        assert "disabled" in page.one("call-next").attrs
        assert page.one("doctor-state").text == "The doctor has paused the queue for a moment."
        # Refused: the page again, with the service's reason and status.
        refused = await client.post("/doctor/queue/call-next", data={"csrf_token": csrf})
        assert refused.status_code == 409
        assert parse(refused.text).one("form-error").text == "The queue is paused. Resume it first."
        assert parse(refused.text).one("pause").text == "Resume"

        page = await press("/doctor/queue/resume")
        page = await press("/doctor/queue/call-next")
        assert page.one("current-token").text == "2"
        page = await press("/doctor/queue/undo")
        assert page.all("current-token") == []
        assert [r.attrs["data-token"] for r in page.one("next-patients").all("queue-row")] == ["2"]

        [row] = page.one("next-patients").all("queue-row")
        unknown = await client.post(
            f"/doctor/queue/entries/{row.attrs['data-entry']}/explode", data={"csrf_token": csrf}
        )
        assert unknown.status_code == 422


async def test_the_desk_moves_a_patient_with_a_form(clinic: QueueClinic, browser: Browser) -> None:
    doctor, _headers = await clinic.doctor()
    await walk_ins(clinic, doctor, ("Zawadi Kiprono", {}), ("Juma Odhiambo", {}), ("Neema", {}))
    receptionist = await clinic.accounts.make(Role.receptionist)

    async with browser() as desk:
        await sign_in_page_staff(desk, receptionist)
        page = await desk.get("/desk/queue")
        rows = queue_rows(parse(page.text), doctor.id)
        ids = {row.attrs["data-token"]: row.attrs["data-entry"] for row in rows}
        [form] = parse(page.text).where(data_queue=str(doctor.id))[0].all("move-form")
        assert (form.tag, form.attrs["method"], form.attrs["action"]) == (
            "form",
            "post",
            "/desk/queue/move",
        )
        assert [o.attrs["value"] for o in form.where(name="entry_id")[0].walk()][1:] == [
            ids["1"],
            ids["2"],
            ids["3"],
        ]
        fields = {"entry_id": ids["3"], "before_entry_id": ids["1"], "reason": "Fainted"}

        forged = await desk.post("/desk/queue/move", data=fields)
        assert forged.status_code == 403

        moved = await desk.post(
            "/desk/queue/move", data={**fields, "csrf_token": csrf_from(page.text)}
        )
        assert (moved.status_code, moved.headers["location"]) == (
            303,
            f"/desk/queue#queue-{doctor.id}",
        )
        page = await desk.get("/desk/queue")
        rows = queue_rows(parse(page.text), doctor.id)
        assert [row.attrs["data-token"] for row in rows] == ["3", "1", "2"]

        refused = await desk.post(
            "/desk/queue/move",
            data={**fields, "before_entry_id": ids["3"], "csrf_token": csrf_from(page.text)},
        )
        assert refused.status_code == 422
        assert (
            parse(refused.text).one("form-error").text
            == "Choose another patient waiting in the same queue."
        )


async def test_the_doctor_opens_the_visit_and_finishes_and_calls_next_from_the_page(
    clinic: QueueClinic, browser: Browser
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    await walk_ins(clinic, doctor, ("Zawadi Kiprono", {}), ("Juma Odhiambo", {}))
    first = (await clinic.act(doctor_headers, f"{doctor.id}/call-next")).json()
    async with browser() as client:
        await sign_in_page_staff(client, doctor)
        page = await client.get("/doctor/queue")
        chart = f"/patients/{first['patient_id']}/chart"
        assert f'href="{chart}" data-testid="current-chart"' in page.text
        visit = f'href="{chart}#visit-{first["consultation_id"]}" data-testid="current-visit"'
        assert visit in page.text
        # Both links answer: the walk-in's chart shows the visit with its forms.
        opened = await client.get(chart)
        assert opened.status_code == 200
        assert f'id="visit-{first["consultation_id"]}"' in opened.text
        action = f"/doctor/queue/entries/{first['id']}/finish-and-call-next"
        assert f'formaction="{action}"' in page.text
        done = await client.post(action, data={"csrf_token": csrf_from(page.text)})
        assert (done.status_code, done.headers["location"]) == (303, "/doctor/queue")
    queue = await clinic.queue(doctor, doctor_headers)
    assert [(e["token"], e["status"]) for e in queue["entries"]] == [
        (1, "completed"),
        (2, "in_consultation"),
    ]
