"""Booking in a real browser: a patient takes a time, and the next patient no longer sees it."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from clinicflow.identity import service as identity
from clinicflow.runtime import build_runtime
from clinicflow.scheduling import service as scheduling
from tests.e2e.conftest import LiveServer, _in_own_thread
from tests.e2e.people import (
    no_horizontal_scroll,
    sign_in_patient,
)

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]
ZONE = "Africa/Nairobi"
SECOND_PATIENT = ("Baraka Mutua", "+254711000077")


def _next_monday() -> date:
    # The app's clock is real here, so book next week: every slot in it is in the future.
    today = datetime.now(ZoneInfo(ZONE)).date()
    return today - timedelta(days=today.weekday()) + timedelta(days=7)


@pytest.fixture
def doctor_id(live_server: LiveServer) -> uuid.UUID:
    """The seeded doctor works every day, 08:00–12:00 and 14:00–17:00 Nairobi, in 30 minutes."""
    found: list[uuid.UUID] = []

    async def seed() -> None:
        runtime = build_runtime(live_server.settings)
        try:
            async with runtime.transaction() as session:
                [doctor] = await identity.search_doctors(session, live_server.doctor.name)
                await scheduling.set_availability(
                    session=session,
                    actor=doctor,
                    doctor_id=doctor.id,
                    timezone=ZONE,
                    slot_minutes=30,
                    weekly={
                        day: [("08:00", "12:00"), ("14:00", "17:00")]
                        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                    },
                    exceptions=[],
                )
                found.append(doctor.id)
        finally:
            await runtime.close()

    _in_own_thread(lambda: asyncio.run(seed()))
    return found[0]


def test_a_booked_slot_is_gone_for_the_next_patient(
    phone_page: Page,
    page: Page,
    live_server: LiveServer,
    doctor_id: uuid.UUID,
    screenshot: Screenshot,
) -> None:
    monday = _next_monday()
    wednesday = (monday + timedelta(days=2)).isoformat()

    # The first patient, on a phone, finds the doctor and books next Wednesday's first time.
    first = phone_page
    sign_in_patient(first, live_server, live_server.patient.phone)
    first.locator("header a[href='/book']").click()
    first.wait_for_url("**/book")
    first.locator("form[action='/book'] input[name=q]").fill("otieno")
    first.locator("form[action='/book'] button[type=submit]").click()
    expect(first.get_by_test_id("doctor")).to_have_count(1)
    first.get_by_test_id("doctor").get_by_role("button", name="See free times").click()
    expect(first.get_by_test_id("doctor-name")).to_have_text(live_server.doctor.name)
    expect(first.get_by_test_id("zone")).to_contain_text("Africa/Nairobi (UTC+03:00)")
    first.get_by_test_id("next-week").click()
    first.wait_for_url(f"**/book/{doctor_id}?week={monday.isoformat()}")
    expect(first.get_by_test_id("day")).to_have_count(7)
    slot = first.locator(f"[data-testid=day][data-date='{wednesday}'] [data-testid=slot]").first
    expect(slot).to_have_text("08:00")
    starts_at = slot.get_attribute("value")
    assert starts_at
    no_horizontal_scroll(first)
    screenshot(first, "week-phone")

    slot.click()
    expect(first.locator("main h1")).to_have_text("Confirm the appointment")
    expect(first.get_by_test_id("held-slot")).to_contain_text("08:00–08:30")
    expect(first.get_by_test_id("hold-expiry")).to_contain_text("for 5 minutes, until")
    no_horizontal_scroll(first)
    screenshot(first, "confirm-phone")
    first.get_by_label("Online, by video").check()
    first.locator("textarea[name=reason]").fill("Headaches for a week")
    first.get_by_test_id("confirm").click()
    first.wait_for_url(re.compile(r"/appointments\?booked="))
    expect(first.get_by_test_id("notice")).to_have_text("Your appointment is booked.")
    booked = first.get_by_test_id("appointment")
    expect(booked).to_have_count(1)
    expect(booked).to_contain_text("08:00–08:30")
    expect(booked).to_contain_text("Online")
    expect(booked.get_by_test_id("status")).to_have_text("Booked")
    no_horizontal_scroll(first)
    screenshot(first, "appointments-phone")

    # A second patient, in another browser, on a desktop, no longer sees that time.
    second = page
    sign_in_patient(second, live_server, SECOND_PATIENT[1], name=SECOND_PATIENT[0])
    second.goto(f"/book/{doctor_id}?week={monday.isoformat()}")
    day = second.locator(f"[data-testid=day][data-date='{wednesday}']")
    expect(day.get_by_test_id("slot").first).to_have_text("08:30")
    expect(second.locator(f"button[name=starts_at][value='{starts_at}']")).to_have_count(0)
    screenshot(second, "week-desktop")

    day.get_by_test_id("slot").first.click()
    expect(second.locator("main h1")).to_have_text("Confirm the appointment")
    expect(second.get_by_test_id("held-slot")).to_contain_text("08:30–09:00")
    screenshot(second, "confirm-desktop")
