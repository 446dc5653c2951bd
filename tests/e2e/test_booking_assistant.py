"""Booking by conversation in a real browser: a patient on a phone, in Swahili, asks the
assistant for Dr Otieno tomorrow morning, picks the first time offered, says yes, and sees
the appointment in their list; a second patient's booking page no longer shows that time."""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.people import axe_violations, no_horizontal_scroll, sign_in_patient, wait_until
from tests.e2e.test_booking import SECOND_PATIENT, ZONE, Screenshot
from tests.e2e.test_booking import doctor_id as doctor_id  # the fixture

pytestmark = pytest.mark.browser


def ask(page: Page, text: str) -> Locator:
    """Write to the assistant; its offers, the first at 08:00 (Dr. Otieno's first time)."""
    page.locator("[data-testid=booking-composer] input").fill(text)
    page.get_by_test_id("booking-send").click()
    offers = page.get_by_test_id("booking-offer")
    expect(offers.first).to_contain_text("08:00")
    return offers


def test_a_patient_books_by_conversation_in_swahili_on_a_phone(
    phone_page: Page,
    page: Page,
    live_server: LiveServer,
    doctor_id: uuid.UUID,
    screenshot: Screenshot,
) -> None:
    tomorrow = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=1)
    first = phone_page
    sign_in_patient(first, live_server, live_server.patient.phone)
    first.locator("form[data-testid=language-switch] button[value=sw]").click()
    first.wait_for_load_state("networkidle")
    first.goto("/book")
    first.get_by_test_id("book-with-assistant").click()
    first.wait_for_url("**/book-with-assistant")
    expect(first.locator("main h1")).to_have_text("Weka miadi kwa msaidizi")
    violations = [v["id"] for v in axe_violations(first) if v["impact"] in {"serious", "critical"}]
    assert violations == []

    offers = ask(first, "Nahitaji daktari Otieno kesho asubuhi")
    expect(offers).to_have_count(3)
    expect(first.get_by_test_id("booking-reply").last).to_contain_text("Nafasi hizi ziko wazi")
    no_horizontal_scroll(first)
    screenshot(first, "booking-assistant-offers-sw-phone")

    offers.first.click()
    expect(first.get_by_test_id("booking-reply").last).to_contain_text("Nakushikilia")
    first.get_by_test_id("booking-yes").click()
    expect(first.get_by_test_id("booking-reply").last).to_contain_text("Miadi imewekwa")
    screenshot(first, "booking-assistant-booked-sw-phone")
    first.get_by_test_id("booking-appointments").click()
    first.wait_for_url(re.compile(r"/appointments"))
    booked = first.get_by_test_id("appointment")
    expect(booked).to_have_count(1)
    expect(booked).to_contain_text("08:00")

    # A second patient's week no longer offers tomorrow's 08:00.
    second = page
    sign_in_patient(second, live_server, SECOND_PATIENT[1], name=SECOND_PATIENT[0])
    monday = tomorrow - timedelta(days=tomorrow.weekday())
    second.goto(f"/book/{doctor_id}?week={monday.isoformat()}")
    day = second.locator(f"[data-testid=day][data-date='{tomorrow.isoformat()}']")
    expect(day.get_by_test_id("slot").first).to_have_text("08:30")


# The page's shared socket is open and follows TOPIC (the module the page itself imports).
FOLLOWING = """
import("realtime").then(({ ClinicSocket }) => {
  const live = ClinicSocket.shared();
  return live.state === "connected" && live.topics.has("TOPIC");
})
"""


def test_an_offered_time_taken_meanwhile_is_withdrawn_on_the_page(
    phone_page: Page, page: Page, live_server: LiveServer, doctor_id: uuid.UUID
) -> None:
    """The page follows the offered doctor's availability: as a second patient takes the
    first time offered (their booking page holds it), the first patient's page, without a
    word from them, says sorry and offers the times still free."""
    tomorrow = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=1)
    first = phone_page
    sign_in_patient(first, live_server, live_server.patient.phone)
    first.locator("form[data-testid=language-switch] button[value=sw]").click()
    first.wait_for_load_state("networkidle")
    first.goto("/book-with-assistant")
    offers = ask(first, "Nahitaji daktari Otieno kesho asubuhi")
    expect(offers).to_have_count(3)
    # The page follows the doctor's availability before anyone else moves.
    wait_until(first, FOLLOWING.replace("TOPIC", f"availability:{doctor_id}"))

    second = page
    sign_in_patient(second, live_server, SECOND_PATIENT[1], name=SECOND_PATIENT[0])
    monday = tomorrow - timedelta(days=tomorrow.weekday())
    second.goto(f"/book/{doctor_id}?week={monday.isoformat()}")
    day = second.locator(f"[data-testid=day][data-date='{tomorrow.isoformat()}']")
    expect(day.get_by_test_id("slot").first).to_have_text("08:00")
    day.get_by_test_id("slot").first.click()
    expect(second.locator("main h1")).to_have_text("Confirm the appointment")

    reply = first.get_by_test_id("booking-reply").last
    expect(reply).to_contain_text("Samahani, nafasi niliyokupa imechukuliwa")
    expect(offers).to_have_count(3)
    expect(offers.first).to_contain_text("08:30")
    expect(first.get_by_test_id("booking-choices")).not_to_contain_text("08:00")


def test_leaving_the_page_lets_the_held_time_go(
    phone_page: Page, page: Page, live_server: LiveServer, doctor_id: uuid.UUID
) -> None:
    """A patient who leaves the page while a time is held for them frees it at once (the
    page's DELETE as it goes), not five minutes later."""
    tomorrow = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=1)
    monday = tomorrow - timedelta(days=tomorrow.weekday())
    week = f"/book/{doctor_id}?week={monday.isoformat()}"
    second = page
    sign_in_patient(second, live_server, SECOND_PATIENT[1], name=SECOND_PATIENT[0])
    day = second.locator(f"[data-testid=day][data-date='{tomorrow.isoformat()}']")

    first = phone_page
    sign_in_patient(first, live_server, live_server.patient.phone)
    first.goto("/book-with-assistant")
    offers = ask(first, "Dr Otieno tomorrow morning")
    offers.first.click()
    expect(first.get_by_test_id("booking-yes")).to_be_visible()
    # Held: the second patient's week does not offer it.
    second.goto(week)
    expect(day.get_by_test_id("slot").first).to_have_text("08:30")

    # Leaving fires `pagehide`, whose handler sends the DELETE (with keepalive). Whether a
    # headless browser delivers a keepalive request from a page being unloaded varied from
    # run to run here, so the event is fired on the page itself: what is tested is that our
    # handler's request is right (its address, method and CSRF token) and frees the time.
    first.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide'))")
    deadline = time.monotonic() + 10
    while True:
        second.goto(week)
        if day.get_by_test_id("slot").first.inner_text().strip() == "08:00":
            break
        assert time.monotonic() < deadline, "the held time was not let go"
        second.wait_for_timeout(200)
