"""Nothing lost when the socket is gone: with WebSocket blocked in both browsers, a patient
and a doctor still chat and the bell still rises, all over `GET /api/events` polling and
HTTP sends.

Before the fix the client went back to "reconnecting" on every retry (so a message typed
while polling was never sent), a constructor that throws never counted as a failure, and
`user:<id>` (the bell, the doctor's new requests) could not be polled at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.people import say_yes, serious_problems, sign_in_patient, sign_in_staff

pytestmark = pytest.mark.browser

# What a network that refuses WebSockets looks like to a page: the constructor throws.
BLOCK_SOCKETS = """
window.__socketsTried = 0;
window.WebSocket = class { constructor() { window.__socketsTried += 1; throw new Error("blocked"); } };
window.WebSocket.CONNECTING = 0; window.WebSocket.OPEN = 1;
"""


def send(page: Page, text: str) -> None:
    page.locator("[data-testid=composer] textarea").fill(text)
    page.locator("[data-testid=send]").click()


def bubbles(page: Page) -> list[str]:
    return page.locator("[data-testid=messages] li:not(.system) p").all_inner_texts()


def test_with_sockets_blocked_chat_and_the_bell_work_over_polling(
    two_people: tuple[Page, Page],
    live_server: LiveServer,
    screenshot: Callable[[Page, str], Path],
) -> None:
    patient, doctor = two_people
    for page in (patient, doctor):
        page.context.add_init_script(BLOCK_SOCKETS)
        page.context.set_default_timeout(20_000)
    polled: list[str] = []
    patient.on("request", lambda r: polled.append(r.url) if "/api/events" in r.url else None)

    sign_in_staff(doctor, live_server.doctor.email, live_server.doctor.password)
    doctor.wait_for_url("**/home")
    doctor.goto("/consultations")
    expect(doctor.locator("[data-testid=connection]")).to_have_attribute("data-state", "polling")

    sign_in_patient(patient, live_server, live_server.patient.phone)
    patient.goto("/consultations")
    form = patient.locator("[data-testid=start-form]")
    form.locator("textarea[name=problem]").fill("A cough that will not stop")
    form.locator("[data-testid=start]").click()
    patient.wait_for_url("**/consultations/*")

    # The doctor's list hears of the request on user:<doctor>, polled.
    pending = doctor.locator("[data-testid=pending] [data-testid=consultation]")
    expect(pending).to_have_count(1)
    pending.locator("[data-testid=open]").click()
    expect(doctor.locator("[data-testid=connection]")).to_have_attribute("data-state", "polling")
    doctor.locator("[data-testid=accept]").click()
    expect(doctor.locator("[data-testid=status]")).to_have_text("In progress")

    # The patient's page hears of the accept (its own topic, polled) and opens the box;
    # the bell counts the "accepted" notification.
    expect(patient.locator("[data-testid=composer]")).to_be_visible()
    expect(patient.locator("[data-testid=connection]")).to_have_attribute("data-state", "polling")
    expect(patient.locator("[data-testid=bell-count]")).to_have_text("1")

    send(patient, "Hello doctor")
    expect(doctor.locator("[data-testid=messages]")).to_contain_text("Hello doctor")
    expect(patient.locator("[data-testid=messages] li.pending")).to_have_count(0)
    send(doctor, "How long has it lasted?")
    expect(patient.locator("[data-testid=messages]")).to_contain_text("How long has it lasted?")
    # A page without a socket is not present in the chat, so the doctor's message is also
    # a notification: the bell hears of it by polling too.
    expect(patient.locator("[data-testid=bell-count]")).to_have_text("2")
    send(patient, "Three days now")
    expect(doctor.locator("[data-testid=messages]")).to_contain_text("Three days now")
    assert bubbles(doctor) == ["Hello doctor", "How long has it lasted?", "Three days now"]

    # The doctor ends it: the patient's bell rises again while they look at the chat.
    doctor.locator("[data-testid=end]").click()
    say_yes(doctor)
    expect(patient.locator("[data-testid=status]")).to_have_text("Ended")
    expect(patient.locator("[data-testid=bell-count]")).to_have_text("3")

    assert patient.evaluate("window.__socketsTried") >= 1
    assert any("topic=user" in url for url in polled), polled
    patient.locator("form[data-testid=language-switch] button[value=sw]").click()
    patient.wait_for_load_state("networkidle")
    expect(patient.locator("[data-testid=connection]")).to_have_attribute("data-state", "polling")
    assert serious_problems(patient) == []
    screenshot(patient, "chat-polling-sw")
