"""Booking in a real browser: a patient takes a time, and the next patient no longer sees it."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from clinicflow.identity import service as identity
from clinicflow.runtime import build_runtime
from clinicflow.scheduling import service as scheduling
from tests.e2e.conftest import LiveServer, _in_own_thread
from tests.e2e.people import (
    follow_menu_link,
    no_horizontal_scroll,
    say_yes,
    serious_problems,
    sign_in_patient,
    sign_in_staff,
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
    follow_menu_link(first, "/book")
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


def test_a_time_taken_or_freed_updates_an_open_week_without_a_reload(
    phone_page: Page,
    page: Page,
    live_server: LiveServer,
    doctor_id: uuid.UUID,
    screenshot: Screenshot,
) -> None:
    """Two patients look at the same week; as one books a time it disappears from the
    other's page, and comes back when it is cancelled, with no reload."""
    monday = _next_monday()
    wednesday = (monday + timedelta(days=2)).isoformat()
    week_url = f"/book/{doctor_id}?week={monday.isoformat()}"

    watcher = page
    sign_in_patient(watcher, live_server, SECOND_PATIENT[1], name=SECOND_PATIENT[0])
    watcher.goto(week_url)
    expect(watcher.get_by_test_id("connection")).to_have_attribute("data-state", "connected")
    expect(watcher.get_by_test_id("connection")).to_have_text("Live")
    first_time = watcher.locator(f"[data-testid=day][data-date='{wednesday}'] [data-testid=slot]")
    expect(first_time.first).to_have_text("08:00")
    starts_at = first_time.first.get_attribute("value")
    assert starts_at
    taken = watcher.locator(f"#week-grid button[name=starts_at][value='{starts_at}']")
    expect(taken).to_have_count(1)
    # Survives only as long as the page is not loaded again.
    watcher.evaluate("window.stillTheSamePage = true")
    # What the watcher's page asks its server for from now on.
    asked: list[str] = []
    watcher.on("request", lambda request: asked.append(request.url))

    booker = phone_page
    sign_in_patient(booker, live_server, live_server.patient.phone)
    booker.goto(week_url)
    booker.locator(f"button[name=starts_at][value='{starts_at}']").click()
    expect(booker.locator("main h1")).to_have_text("Confirm the appointment")
    # Held while the booker decides: already gone for the watcher.
    expect(taken).to_have_count(0)
    booker.get_by_test_id("confirm").click()
    booker.wait_for_url(re.compile(r"/appointments\?booked="))

    expect(taken).to_have_count(0)
    expect(first_time.first).to_have_text("08:30")
    assert watcher.evaluate("window.stillTheSamePage") is True
    expect(watcher.get_by_test_id("connection")).to_have_text("Live")
    # The page fetched only the week, drawn by the server, never the whole page again.
    weeks = [url for url in asked if urlsplit(url).path == f"/book/{doctor_id}"]
    assert weeks
    assert all(parse_qs(urlsplit(url).query).get("block") == ["week_grid"] for url in weeks)
    screenshot(watcher, "week-live-taken")

    # The booker cancels: the time is free again on the watcher's page.
    # It cannot be undone, so the page asks first: "Go back" leaves it booked.
    booker.get_by_test_id("appointment").get_by_test_id("cancel").click()
    expect(booker.get_by_test_id("confirm-dialog")).to_be_visible()
    booker.get_by_test_id("confirm-no").click()
    expect(booker.get_by_test_id("confirm-dialog")).to_be_hidden()
    expect(booker.get_by_test_id("appointment").get_by_test_id("status")).not_to_have_text(
        "Cancelled"
    )
    expect(taken).to_have_count(0)
    booker.get_by_test_id("appointment").get_by_test_id("cancel").click()
    say_yes(booker)
    # Cancelled, it leaves "Upcoming" for the earlier and cancelled ones.
    expect(booker.get_by_test_id("notice")).to_be_visible()
    expect(booker.get_by_test_id("appointment")).to_have_count(0)
    expect(booker.get_by_test_id("past")).to_contain_text("Cancelled")
    expect(taken).to_have_count(1)
    expect(first_time.first).to_have_text("08:00")
    assert watcher.evaluate("window.stillTheSamePage") is True

    # The watcher can still take it from the swapped-in week.
    taken.click()
    expect(watcher.locator("main h1")).to_have_text("Confirm the appointment")
    expect(watcher.get_by_test_id("held-slot")).to_contain_text("08:00–08:30")


def test_the_desk_week_updates_when_a_patient_takes_a_time(
    phone_page: Page, page: Page, live_server: LiveServer, doctor_id: uuid.UUID
) -> None:
    monday = _next_monday()
    wednesday = (monday + timedelta(days=2)).isoformat()

    desk = page
    sign_in_staff(desk, live_server.admin.email, live_server.admin.password)
    desk.wait_for_url("**/home")
    desk.goto("/desk/book?q=Amina")
    desk.get_by_test_id("patient").click()
    desk.get_by_test_id("doctor").click()
    desk.get_by_test_id("next-week").click()
    desk.wait_for_url(re.compile(rf"week={monday.isoformat()}"))
    expect(desk.get_by_test_id("connection")).to_have_text("Live")
    times = desk.locator(f"[data-testid=day][data-date='{wednesday}'] [data-testid=slot]")
    expect(times.first).to_have_text("08:00")
    starts_at = times.first.get_attribute("value")
    desk.evaluate("window.stillTheSamePage = true")

    patient = phone_page
    sign_in_patient(patient, live_server, SECOND_PATIENT[1], name=SECOND_PATIENT[0])
    patient.goto(f"/book/{doctor_id}?week={monday.isoformat()}")
    patient.locator(f"button[name=starts_at][value='{starts_at}']").click()
    expect(patient.locator("main h1")).to_have_text("Confirm the appointment")

    expect(desk.locator(f"#week-grid button[value='{starts_at}']")).to_have_count(0)
    expect(times.first).to_have_text("08:30")
    assert desk.evaluate("window.stillTheSamePage") is True
    # The desk books the next time from the swapped-in week, for its chosen patient.
    times.first.click()
    expect(desk.get_by_test_id("patient-name")).to_contain_text(live_server.patient.name)
    expect(desk.get_by_test_id("held-slot")).to_contain_text("08:30–09:00")


def test_the_hold_counts_down_and_says_when_it_has_lapsed(
    phone_page: Page, live_server: LiveServer, doctor_id: uuid.UUID, screenshot: Screenshot
) -> None:
    """The confirm page counts the hold down in Swahili, and says plainly once it has lapsed
    (the page's own timer is moved on; the server's hold lapses by itself)."""
    page = phone_page
    sign_in_patient(page, live_server, live_server.patient.phone)
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    page.wait_for_load_state("networkidle")
    page.clock.install()
    page.goto(f"/book/{doctor_id}?week={_next_monday().isoformat()}")
    page.get_by_test_id("slot").first.click()
    left = page.get_by_test_id("hold-left")
    expect(left).to_have_text(re.compile(r"^(5:00|4:5\d) zimebaki$"))
    page.clock.run_for("01:00")
    expect(left).to_have_text(re.compile(r"^(4:00|3:5\d) zimebaki$"))
    assert serious_problems(page) == []
    screenshot(page, "hold-countdown-sw-phone")
    expect(page.get_by_test_id("hold-lapsed")).to_be_hidden()
    page.clock.run_for("04:05")
    expect(page.get_by_test_id("hold-lapsed")).to_be_visible()
    expect(page.get_by_test_id("hold-expiry")).to_be_hidden()
    assert serious_problems(page) == []
    screenshot(page, "hold-lapsed-sw-phone")
