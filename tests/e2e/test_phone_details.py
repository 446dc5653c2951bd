"""Small things a phone user in Swahili trips over (issue 18), each seen in the browser: the
chat's message box is on the first screen, the doctor's chat asks the server for nothing it
refuses, the home's "My records" card opens wherever it is tapped, and the booking week's
past days stay readable (axe colour contrast)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, Response, expect
from sqlalchemy.ext.asyncio import AsyncSession

from tests.e2e.conftest import LiveServer
from tests.e2e.people import (
    Screenshot,
    in_consultation,
    in_server_db,
    keep_shot,
    no_horizontal_scroll,
    serious_problems,
    sign_in_patient,
    user_where,
)
from tests.e2e.test_home import _book_next_week_for_the_patient

pytestmark = pytest.mark.browser


def _in_swahili(page: Page) -> None:
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "sw"


def test_the_chat_box_is_on_the_first_screen_and_the_doctors_chat_asks_nothing_refused(
    two_people: tuple[Page, Page], live_server: LiveServer, screenshot: Screenshot
) -> None:
    patient, doctor = two_people
    refused: list[str] = []

    def note_refusal(response: Response) -> None:
        if response.status >= 400:
            refused.append(f"{response.status} {response.url}")

    doctor.on("response", note_refusal)
    in_consultation(patient, doctor, live_server, "Kikohozi kisichoisha")
    _in_swahili(patient)
    expect(doctor.locator("[data-testid=status]")).to_have_text("In progress")
    # Opened again with no draft prescription: the page and its panel load, nothing 404s.
    doctor.reload()
    doctor.wait_for_load_state("networkidle")
    expect(doctor.locator("[data-testid=composer]")).to_be_visible()
    assert refused == []

    composer = patient.locator("[data-testid=composer] textarea")
    expect(composer).to_be_visible()
    patient.reload()
    patient.wait_for_load_state("networkidle")
    patient.evaluate("window.scrollTo(0, 0)")
    box = composer.bounding_box()
    assert box is not None
    height = patient.viewport_size["height"] if patient.viewport_size else 0
    # The whole box, not only its top edge, is above the fold of the 844 px screen.
    assert box["y"] + box["height"] <= height, (box, height)
    keep_shot(screenshot, patient, "chat-sw-phone-first-screen")


def test_the_patients_records_card_opens_from_its_text(
    phone_page: Page, live_server: LiveServer
) -> None:
    page = phone_page
    sign_in_patient(page, live_server, live_server.patient.phone)
    _in_swahili(page)
    # A finger on the card's sentence ("Your visits, notes and prescriptions."), not on its
    # heading's link, opens where the card is about.
    for sentence, path in (
        ("Ziara zako, maelezo na maagizo ya dawa.", "/records"),
        ("Kila miadi, na nafasi yako kwenye orodha ya kusubiri.", "/appointments"),
    ):
        page.goto("/home")
        text = page.get_by_text(sentence)
        text.scroll_into_view_if_needed()
        box = text.bounding_box()
        assert box is not None, sentence
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_url(f"**{path}")
    # The link is still named by its heading alone, not by the whole card.
    page.goto("/home")
    expect(page.locator(".home-links a[href='/records']")).to_have_accessible_name("Rekodi zangu")


def test_the_booking_weeks_past_days_are_readable(
    phone_page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    page = phone_page
    if datetime.now(ZoneInfo("Africa/Nairobi")).weekday() == 0:
        pytest.skip("on a Monday this week has no past day to look at")

    async def doctor_id(session: AsyncSession, settings: Any) -> str:
        doctor = await user_where(session, email=live_server.doctor.email)
        return str(doctor.id)

    sign_in_patient(page, live_server, live_server.patient.phone)
    _in_swahili(page)
    page.goto(f"/book/{in_server_db(live_server, doctor_id)}")
    past = page.locator("[data-testid=day].is-past")
    expect(past.first).to_be_visible()
    expect(past.first).to_contain_text("Imepita")
    assert serious_problems(page) == []
    keep_shot(screenshot, page, "week-sw-past-days")


def test_a_patient_moves_and_keeps_an_appointment_on_a_phone_in_swahili(
    phone_page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    """The appointments page, not only the API: each upcoming visit has its calendar file
    and the times it may move to, and moving it is one form."""
    _book_next_week_for_the_patient(live_server)
    page = phone_page
    sign_in_patient(page, live_server, live_server.patient.phone)
    _in_swahili(page)
    page.goto("/appointments")
    booked = page.get_by_test_id("upcoming").get_by_test_id("appointment")
    expect(booked).to_have_count(1)
    expect(booked).to_contain_text("08:00")
    calendar = booked.get_by_test_id("add-to-calendar")
    expect(calendar).to_have_text("Ongeza kwenye kalenda yangu")
    assert (calendar.get_attribute("href") or "").endswith(".ics")
    assert page.request.get(live_server.url(calendar.get_attribute("href") or "")).ok

    booked.get_by_test_id("reschedule").click()
    expect(booked.get_by_test_id("reschedule")).to_have_text("Badilisha muda")
    choice = booked.get_by_test_id("reschedule-time")
    # The first time offered, like "Jumatatu 7 Desemba 2026, 08:00": its day and its clock.
    label = choice.locator("option").first.inner_text()
    day, moved_to = label.rsplit(", ", 1)
    no_horizontal_scroll(page)
    assert serious_problems(page) == []
    keep_shot(screenshot, page, "appointments-sw-reschedule")
    booked.get_by_test_id("reschedule-submit").click()
    page.wait_for_url("**/appointments?done=rescheduled")
    expect(page.get_by_test_id("notice")).to_have_text("Miadi yako ina muda mpya.")
    moved = page.get_by_test_id("upcoming").get_by_test_id("appointment")
    expect(moved).to_have_count(1)
    expect(moved.locator("header strong")).to_have_text(day)
    expect(moved.locator(".appointment-time")).to_contain_text(f"{moved_to}–")
