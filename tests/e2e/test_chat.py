"""A consultation in two real browsers: the patient and the doctor talk both ways, see each
other typing, reload and keep the history, and lose nothing while the patient is offline."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.people import (
    in_consultation,
    no_horizontal_scroll,
    say_yes,
    sign_in_patient,
    sign_in_staff,
)

pytestmark = pytest.mark.browser

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def bubbles(page: Page) -> list[str]:
    return page.locator("[data-testid=messages] li:not(.system) p").all_inner_texts()


def path_of_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def send(page: Page, text: str) -> None:
    page.locator("[data-testid=composer] textarea").fill(text)
    page.locator("[data-testid=send]").click()


def test_patient_and_doctor_talk_in_real_time_and_nothing_is_lost(
    two_people: tuple[Page, Page], live_server: LiveServer
) -> None:
    patient, doctor = two_people
    sign_in_staff(doctor, live_server.doctor.email, live_server.doctor.password)
    doctor.wait_for_url("**/home")
    doctor.goto("/consultations")
    expect(doctor.locator("[data-testid=connection]")).to_have_attribute("data-state", "connected")
    expect(doctor.locator("[data-testid=no-consultations]")).to_be_visible()
    # The open list learns of a new request over the socket and fetches only its groups,
    # drawn by the server (the page is not reloaded: this mark survives).
    doctor.evaluate("window.__list_not_reloaded = true")
    fetched: list[str] = []
    doctor.on("request", lambda request: fetched.append(path_of_url(request.url)))

    sign_in_patient(patient, live_server, live_server.patient.phone)
    patient.goto("/consultations")
    form = patient.locator("[data-testid=start-form]")
    form.locator("textarea[name=problem]").fill("A cough that will not stop")
    form.locator("[data-testid=start]").click()
    patient.wait_for_url("**/consultations/*")
    expect(patient.locator("[data-testid=status]")).to_have_text("Waiting for the doctor")
    expect(patient.locator("[data-testid=read-only]")).to_be_visible()

    # The doctor's open list shows the new request without a reload, at the top.
    pending = doctor.locator("[data-testid=pending] [data-testid=consultation]")
    expect(pending).to_have_count(1)
    assert doctor.evaluate("window.__list_not_reloaded") is True
    assert "/consultations?fragment=groups" in fetched
    assert "/consultations" not in fetched
    pending.locator("[data-testid=open]").click()
    doctor.locator("[data-testid=accept]").click()
    expect(doctor.locator("[data-testid=status]")).to_have_text("In progress")

    # The patient's page learns of the accept by itself and opens the message box.
    expect(patient.locator("[data-testid=composer]")).to_be_visible()
    expect(patient.locator("[data-testid=connection]")).to_have_attribute("data-state", "connected")
    expect(doctor.locator("[data-testid=presence]")).to_have_attribute("data-online", "yes")

    patient.locator("[data-testid=composer] textarea").press_sequentially("Hel")
    expect(doctor.locator("[data-testid=typing]")).to_contain_text(live_server.patient.name)
    send(patient, "Hello doctor")
    expect(doctor.locator("[data-testid=messages]")).to_contain_text("Hello doctor")
    send(doctor, "<img src=x onerror=alert(1)> How long has it lasted?")
    expect(patient.locator("[data-testid=messages]")).to_contain_text(
        "<img src=x onerror=alert(1)> How long has it lasted?"
    )
    assert patient.locator("[data-testid=messages] img").count() == 0

    # One socket per tab: the chat and the bell share it.
    sockets: list[str] = []
    patient.on("websocket", lambda socket: sockets.append(socket.url))
    patient.reload()
    expect(patient.locator("[data-testid=messages] li:not(.system)")).to_have_count(2)
    expect(patient.locator("[data-testid=connection]")).to_have_attribute("data-state", "connected")
    assert len(sockets) == 1, sockets
    assert bubbles(patient) == [
        "Hello doctor",
        "<img src=x onerror=alert(1)> How long has it lasted?",
    ]

    # Offline: the message waits, visibly, and goes out once the network is back.
    patient.context.set_offline(True)
    expect(patient.locator("[data-testid=connection]")).to_have_attribute("data-state", "offline")
    send(patient, "Three days now")
    expect(patient.locator("[data-testid=messages] li.pending")).to_have_count(1)
    doctor.wait_for_timeout(1000)
    assert "Three days now" not in bubbles(doctor)
    patient.context.set_offline(False)
    patient.evaluate("window.dispatchEvent(new Event('online'))")
    expect(doctor.locator("[data-testid=messages]")).to_contain_text("Three days now")
    expect(patient.locator("[data-testid=messages] li.pending")).to_have_count(0)
    assert bubbles(doctor) == [
        "Hello doctor",
        "<img src=x onerror=alert(1)> How long has it lasted?",
        "Three days now",
    ]
    no_horizontal_scroll(patient)

    patient.locator("[data-testid=attach]").set_input_files(
        files=[{"name": "rash.png", "mimeType": "image/png", "buffer": PNG}]
    )
    expect(doctor.locator("[data-testid=messages] a")).to_have_text("rash.png")
    patient.locator("[data-testid=attach]").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"just text"}]
    )
    expect(patient.locator("[data-testid=upload-error]")).to_be_visible()

    doctor.locator("[data-testid=end]").click()
    say_yes(doctor)
    expect(patient.locator("[data-testid=status]")).to_have_text("Ended")
    expect(patient.locator("[data-testid=composer]")).to_have_count(0)


def test_a_message_stored_before_a_reload_is_not_left_sending(
    two_people: tuple[Page, Page], live_server: LiveServer
) -> None:
    """The page reloads 300 ms after the doctor accepts. A message written in between is
    stored by the server but still listed as unsent when the new page loads; the new page
    sends it again, the server answers with the stored copy, and that answer must take the
    "sending" bubble away even though the history already drew the message (CI once showed
    the bubble still pending 10 s later)."""
    patient, doctor = two_people
    in_consultation(patient, doctor, live_server, "A cough")
    expect(patient.locator("[data-testid=connection]")).to_have_attribute("data-state", "connected")
    send(patient, "Still coughing")
    stored = patient.locator("[data-testid=messages] li:not(.system):not(.pending)")
    expect(stored).to_have_count(1)
    client_id = stored.first.get_attribute("data-client-id")
    assert client_id
    # What the old page had written down before the reload cut its acknowledgement short.
    patient.evaluate(
        """([id, clientId]) => localStorage.setItem("clinicflow.unsent." + id,
            JSON.stringify([{ client_id: clientId, body: "Still coughing" }]))""",
        [patient.url.rstrip("/").rsplit("/", 1)[1], client_id],
    )
    patient.reload()
    expect(patient.locator("[data-testid=connection]")).to_have_attribute("data-state", "connected")
    expect(patient.locator("[data-testid=messages] li.pending")).to_have_count(0)
    assert bubbles(patient) == ["Still coughing"]
    assert (
        patient.evaluate(
            "(id) => localStorage.getItem('clinicflow.unsent.' + id)",
            patient.url.rstrip("/").rsplit("/", 1)[1],
        )
        is None
    )
    expect(doctor.locator("[data-testid=messages]")).to_contain_text("Still coughing")
    assert bubbles(doctor) == ["Still coughing"]
