"""Every role's home page in a browser: its figures, live. A walk-in registered at the desk
raises the doctor's waiting count, the desk's queue count and the admin's figures without a
reload; the doctor calling the next patient moves the patient's position on their home.
Then each home page on a phone, in Swahili, checked by eye (screenshots)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.runtime import build_runtime
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import Mode
from tests.e2e.conftest import LiveServer, StaffAccount, _in_own_thread
from tests.e2e.people import (
    no_horizontal_scroll,
    register_walk_in,
    serious_problems,
    sign_in_patient,
    sign_in_staff,
)

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]
ZONE = "Africa/Nairobi"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Where to keep a copy of the screenshots to look at (CLINICFLOW_SHOTS=/some/dir), if anywhere.
SHOTS = os.environ.get("CLINICFLOW_SHOTS")


def _waiting(page: Page) -> object:
    return page.locator("[data-testid=figure-waiting] strong")


def _live(page: Page) -> None:
    expect(page.locator("[data-testid=connection]")).to_have_attribute("data-state", "connected")


def test_each_roles_home_shows_its_figures_and_follows_the_desk_live(
    three_people: tuple[Page, Page, Page],
    page: Page,
    live_server: LiveServer,
    receptionist: StaffAccount,
) -> None:
    desk_home, patient, doctor = three_people
    admin = page
    sign_in_staff(doctor, live_server.doctor.email, live_server.doctor.password)
    doctor.wait_for_url("**/home")
    _live(doctor)
    expect(_waiting(doctor)).to_have_text("0")
    expect(doctor.locator("[data-testid=figure-booked] strong")).to_have_text("0")

    sign_in_staff(admin, live_server.admin.email, live_server.admin.password)
    admin.wait_for_url("**/home")
    _live(admin)
    expect(_waiting(admin)).to_have_text("0")
    expect(admin.locator("[data-testid=audit-chain]")).to_contain_text("intact")

    sign_in_staff(desk_home, receptionist.email, receptionist.password)
    desk_home.wait_for_url("**/home")
    _live(desk_home)
    count = desk_home.locator("[data-testid=queue-count] [data-testid=waiting]")
    expect(count).to_have_text("0")

    sign_in_patient(patient, live_server, live_server.patient.phone)
    expect(patient.locator("[data-testid=no-next]")).to_be_visible()

    # The desk registers a walk-in on a second tab: three home pages move without a reload.
    desk = desk_home.context.new_page()
    desk.goto("/desk/queue")
    register_walk_in(desk, live_server.doctor.name, "Baraka Mutua", "+254711000077")
    expect(desk.locator("[data-testid=receipt]")).to_contain_text("Token 1")
    expect(_waiting(doctor)).to_have_text("1")
    expect(count).to_have_text("1")
    expect(_waiting(admin)).to_have_text("1")
    expect(admin.locator("[data-testid=figure-visits] strong")).to_have_text("1")

    # The patient joins behind Baraka: their home shows the token and who is ahead.
    register_walk_in(
        desk, live_server.doctor.name, live_server.patient.name, live_server.patient.phone
    )
    expect(desk.locator("[data-testid=receipt]")).to_contain_text("Token 2")
    patient.reload()
    _live(patient)
    token = patient.locator("[data-testid=token]")
    expect(token).to_contain_text("2")
    expect(token.locator("[data-testid=position]")).to_contain_text("Patients ahead: 1.")
    expect(_waiting(doctor)).to_have_text("2")

    # The doctor calls Baraka from their queue: the patient's home says they are next.
    queue = doctor.context.new_page()
    queue.goto("/doctor/queue")
    queue.locator("[data-testid=call-next]").click()
    expect(queue.locator("[data-testid=current-token]")).to_have_text("1")
    expect(token.locator("[data-testid=position]")).to_contain_text("Patients ahead: 0.")
    expect(_waiting(doctor)).to_have_text("1")
    expect(count).to_have_text("1")
    expect(_waiting(admin)).to_have_text("1")


def _in_swahili(page: Page) -> None:
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "sw"


def _book_next_week_for_the_patient(live_server: LiveServer) -> None:
    """The doctor works every day; the desk books the seeded patient next Wednesday 08:00."""

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
                    weekly={day: [("08:00", "12:00"), ("14:00", "17:00")] for day in DAYS},
                    exceptions=[],
                )
                desk = await identity.create_user(
                    session=session,
                    actor=None,
                    role=Role.receptionist,
                    name="Booking Desk",
                    email="booking-desk@e2e.example.com",
                    password="desk-password-2",
                )
                patient = await identity.find_or_register_patient(
                    session=session,
                    actor=desk,
                    phone=live_server.patient.phone,
                    name=live_server.patient.name,
                )
                today = datetime.now(ZoneInfo(ZONE)).date()
                wednesday = today - timedelta(days=today.weekday()) + timedelta(days=9)
                await scheduling.book(
                    session=session,
                    settings=live_server.settings,
                    actor=desk,
                    patient_id=patient.id,
                    doctor_id=doctor.id,
                    starts_at=datetime.combine(wednesday, time(8), tzinfo=ZoneInfo(ZONE)),
                    mode=Mode.in_person,
                    reason="Check-up",
                )
        finally:
            await runtime.close()

    _in_own_thread(lambda: asyncio.run(seed()))


def test_the_home_pages_in_swahili_on_a_phone(
    phone_page: Page,
    live_server: LiveServer,
    receptionist: StaffAccount,
    screenshot: Screenshot,
) -> None:
    """Each role's home, 390x844 in Swahili: no sideways scroll, and a picture to look at."""
    _book_next_week_for_the_patient(live_server)
    staff = {
        "doctor": live_server.doctor,
        "receptionist": receptionist,
        "admin": live_server.admin,
    }
    for role, account in staff.items():
        phone_page.context.clear_cookies()
        sign_in_staff(phone_page, account.email, account.password)
        phone_page.wait_for_url("**/home")
        if role == "receptionist":
            register_walk_in_from_home(phone_page, live_server)
        _in_swahili(phone_page)
        _live(phone_page)
        no_horizontal_scroll(phone_page)
        assert serious_problems(phone_page) == [], role
        keep(screenshot(phone_page, f"home-{role}-sw"))
    phone_page.context.clear_cookies()
    sign_in_patient(phone_page, live_server, live_server.patient.phone)
    _in_swahili(phone_page)
    _live(phone_page)
    expect(phone_page.locator("[data-testid=token]")).to_be_visible()
    expect(phone_page.locator("[data-testid=add-to-calendar]")).to_be_visible()
    phone_page.locator("[data-testid=cancel]").click()
    expect(phone_page.locator("[data-testid=cancel-confirm]")).to_be_visible()
    no_horizontal_scroll(phone_page)
    assert serious_problems(phone_page) == []
    keep(screenshot(phone_page, "home-patient-sw"))


def keep(shot: Path) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(SHOTS) / shot.name)


def register_walk_in_from_home(page: Page, live_server: LiveServer) -> None:
    """The desk gives the seeded patient a token, so the homes have something to show."""
    page.goto("/desk/queue")
    register_walk_in(
        page, live_server.doctor.name, live_server.patient.name, live_server.patient.phone
    )
    expect(page.locator("[data-testid=receipt]")).to_contain_text("Token 1")
    page.goto("/home")
