"""The desk's queue cards and the board's kiosk mode (issue 18), in Debian's Chromium.

On phones: the receptionist calls the next patient from a card, cancels the patient's token
(after the page's question) and gives them a new token from the "Did not come" card, and the
patient's waiting room follows each step without a reload. On a TV (1920x1080): the kiosk
board has no site header, "Start kiosk" goes full screen and turns on the sound, and a call
plays the chime. axe-core finds no serious or critical problem on either, in Swahili.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from clinicflow.identity.models import User
from clinicflow.queue import service as queues
from clinicflow.queue.models import QueueEntry
from clinicflow.queue.schemas import Severity
from clinicflow.runtime import build_runtime
from tests.e2e.conftest import LiveServer, StaffAccount, _in_own_thread, _people
from tests.e2e.people import (
    axe_violations,
    no_horizontal_scroll,
    register_walk_in,
    say_yes,
    sign_in_patient,
    sign_in_staff,
    wait_until,
)

pytestmark = pytest.mark.browser

# Where to keep a copy of the screenshots for people to look at; unset, they stay in the
# test's own temporary directory.
SHOTS = os.environ.get("CLINICFLOW_SHOTS")
FIRST_WALK_IN = ("Baraka Mutua", "+254711000077")
Screenshot = Callable[[Page, str], Path]


def _keep(screenshot: Screenshot, page: Page, name: str) -> None:
    taken = screenshot(page, name)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(taken, Path(SHOTS) / f"{name}.png")


def _keep_file(path: Path) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SHOTS) / path.name)


def _doctor_skips(live_server: LiveServer, *, token: int) -> None:
    """The doctor marks the waiting patient with `token` not here (a service call: the
    desk's page is drawn again after it)."""

    async def go() -> None:
        runtime = build_runtime(live_server.settings)
        try:
            async with runtime.transaction() as session:
                doctor = await session.scalar(
                    select(User).filter_by(email=live_server.doctor.email)
                )
                assert doctor is not None
                entry = await session.scalar(
                    select(QueueEntry).filter_by(doctor_id=doctor.id, token=token)
                )
                assert entry is not None
                await queues.no_show(session=session, actor=doctor, entry_id=entry.id)
        finally:
            await runtime.close()

    _in_own_thread(lambda: asyncio.run(go()))


def _serious(page: Page) -> list[str]:
    return [
        f"{violation['id']} ({violation['impact']}) on {violation['nodes'][0]['target']}"
        for violation in axe_violations(page)
        if violation["impact"] in {"serious", "critical"}
    ]


def _in_swahili(page: Page) -> None:
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "sw"


def test_the_desk_calls_cancels_and_requeues_from_cards_and_the_waiting_room_follows(
    browser: Browser,
    live_server: LiveServer,
    receptionist: StaffAccount,
    screenshot: Screenshot,
) -> None:
    with _people(browser, live_server.base_url, True, True) as (desk, patient):
        errors: list[str] = []
        for page in (desk, patient):
            page.on("pageerror", lambda error: errors.append(str(error)))
        sign_in_staff(desk, receptionist.email, receptionist.password)
        desk.wait_for_url("**/home")
        desk.goto("/desk/queue")
        register_walk_in(desk, live_server.doctor.name, *FIRST_WALK_IN)
        register_walk_in(
            desk, live_server.doctor.name, live_server.patient.name, live_server.patient.phone
        )
        expect(desk.get_by_test_id("receipt")).to_contain_text("Token 2")
        expect(desk.get_by_test_id("connection")).to_have_attribute("data-state", "connected")
        # The queue's own list (the "Did not come" cards are in a list of their own).
        rows = desk.locator("[data-testid=doctor-queue] > ol > [data-testid=queue-row]")
        expect(rows).to_have_count(2)

        sign_in_patient(patient, live_server, live_server.patient.phone)
        patient.goto("/queue")
        expect(patient.get_by_test_id("connection")).to_have_attribute("data-state", "connected")
        place = patient.get_by_test_id("place")
        expect(place.get_by_test_id("position")).to_have_text("1 patient ahead of you")

        # Call: from the first waiting patient's card; the waiting room moves up, live.
        rows.nth(0).get_by_test_id("card-call").click()
        expect(rows.nth(0)).to_contain_text("In consultation")
        expect(rows.nth(0).get_by_test_id("card-recall")).to_be_visible()
        expect(place.get_by_test_id("serving-token")).to_have_text("1")
        expect(place.get_by_test_id("position")).to_have_text("You are next.")

        # Cancel asks first; "Go back" changes nothing, "Yes" cancels the token.
        mine = rows.filter(has_text=live_server.patient.name)
        mine.get_by_test_id("card-cancel").click()
        expect(desk.get_by_test_id("confirm-dialog")).to_be_visible()
        desk.get_by_test_id("confirm-no").click()
        expect(rows).to_have_count(2)
        mine.get_by_test_id("card-cancel").click()
        say_yes(desk)
        expect(rows).to_have_count(1)
        expect(place.get_by_test_id("missed")).to_be_visible()

        # Re-queue: the "Did not come" card gives a new token; the waiting room shows it.
        gone = desk.locator("[data-testid=doctor-queue] details[data-keep=no-shows]")
        gone.locator("summary").click()
        gone.get_by_test_id("card-requeue").click()
        expect(rows.filter(has_text=live_server.patient.name)).to_contain_text("Token 3")
        expect(patient.get_by_test_id("place").get_by_test_id("my-token")).to_have_text("3")
        expect(patient.get_by_test_id("place").get_by_test_id("position")).to_have_text(
            "You are next."
        )
        no_horizontal_scroll(desk)

        # Every kind of card on show: a walk-in who left (cancelled), and the doctor skipping
        # the patient, who then has "Arrived".
        register_walk_in(desk, live_server.doctor.name, "Neema Atieno", "+254711000078")
        rows.filter(has_text="Neema Atieno").get_by_test_id("card-cancel").click()
        say_yes(desk)
        expect(rows).to_have_count(2)
        _doctor_skips(live_server, token=3)
        _in_swahili(desk)
        desk.goto("/desk/queue")
        expect(
            rows.filter(has_text=live_server.patient.name).get_by_test_id("card-arrived")
        ).to_be_visible()
        expect(desk.get_by_test_id("card-recall")).to_be_visible()
        desk.locator("details[data-keep=no-shows] summary").click()
        expect(desk.get_by_test_id("card-requeue")).to_be_visible()
        no_horizontal_scroll(desk)
        # In Swahili, with every kind of card on show: no serious accessibility problem.
        assert _serious(desk) == []
        whole = screenshot(desk, "desk-sw-phone")
        _keep_file(whole)
        cards = whole.with_name("desk-cards-sw-phone.png")
        desk.get_by_test_id("doctor-queue").screenshot(path=str(cards))
        _keep_file(cards)
        assert errors == []


def _call_next_patient(live_server: LiveServer) -> None:
    """A walk-in for the seeded doctor, called by the doctor (the board polls the database)."""

    async def go() -> None:
        runtime = build_runtime(live_server.settings)
        try:
            async with runtime.transaction() as session:
                doctor = await session.scalar(
                    select(User).filter_by(email=live_server.doctor.email)
                )
                desk = await session.scalar(select(User).filter_by(email=live_server.admin.email))
                assert doctor is not None
                assert desk is not None
                await queues.walk_in(
                    session=session,
                    actor=desk,
                    doctor_id=doctor.id,
                    phone="+254711000099",
                    name="Neema Atieno",
                    severity=Severity.routine,
                    patient_type=None,
                )
            async with runtime.transaction() as session:
                await queues.call_next(session=session, actor=doctor, doctor_id=doctor.id)
        finally:
            await runtime.close()

    _in_own_thread(lambda: asyncio.run(go()))


def test_the_kiosk_board_goes_full_screen_and_chimes_on_a_call(
    browser: Browser, live_server: LiveServer, screenshot: Screenshot
) -> None:
    context = browser.new_context(
        base_url=live_server.base_url, locale="en-US", viewport={"width": 1920, "height": 1080}
    )
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/board")
        _in_swahili(page)
        page.get_by_test_id("kiosk-link").click()
        page.wait_for_url("**/board/kiosk")
        assert page.locator(".site-header").count() == 0
        assert page.locator(".site-footer").count() == 0
        board = page.get_by_test_id("board")
        assert page.evaluate("document.fullscreenElement") is None
        assert _serious(page) == []  # before the start, its button on show
        page.get_by_test_id("kiosk-start").click()
        wait_until(page, "document.fullscreenElement !== null")
        expect(board).to_have_attribute("data-audio", "running")
        expect(page.get_by_test_id("kiosk-start")).to_be_hidden()
        expect(board).to_have_attribute("data-chimes", "0")

        # A call: the new serving token, and one chime.
        _call_next_patient(live_server)
        expect(page.get_by_test_id("board-serving")).to_have_text("1", timeout=8_000)
        # Drawn again by the poll, still in the screen's language.
        expect(page.get_by_test_id("board-row")).to_contain_text("Wanaosubiri: 0")
        expect(board).to_have_attribute("data-chimes", "1")
        expect(page.locator(".board-row.is-called")).to_have_count(1)
        font_px = page.evaluate(
            "parseFloat(getComputedStyle(document.querySelector('.board-token')).fontSize)"
        )
        assert font_px >= 150, font_px  # a token read from across the waiting room

        # The Fullscreen button leaves full screen and comes back.
        page.get_by_test_id("kiosk-fullscreen").click()
        wait_until(page, "document.fullscreenElement === null")
        _keep(screenshot, page, "kiosk-board-sw-tv")
        assert _serious(page) == []
        assert errors == []
    finally:
        context.close()
