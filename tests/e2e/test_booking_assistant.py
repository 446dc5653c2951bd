"""Booking by conversation in a real browser: a patient on a phone, in Swahili, asks the
assistant for Dr Otieno tomorrow morning, picks the first time offered, says yes, and sees
the appointment in their list; a second patient's booking page no longer shows that time."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.people import axe_violations, no_horizontal_scroll, sign_in_patient
from tests.e2e.test_booking import SECOND_PATIENT, ZONE, Screenshot
from tests.e2e.test_booking import doctor_id as doctor_id  # the fixture

pytestmark = pytest.mark.browser


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

    first.locator("[data-testid=booking-composer] input").fill(
        "Nahitaji daktari Otieno kesho asubuhi"
    )
    first.get_by_test_id("booking-send").click()
    offers = first.get_by_test_id("booking-offer")
    expect(offers).to_have_count(3)
    expect(offers.first).to_contain_text("08:00")
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
