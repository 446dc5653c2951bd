"""The clinic's settings in a real browser, on a phone, in Swahili: the admin changes the
time zone and saves; then edits the queue weights and watches the preview reorder today's
waiting patients before saving them."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from clinicflow.identity import service as identity
from clinicflow.identity.schemas import PatientType, Role
from clinicflow.queue import service as queues
from clinicflow.queue.schemas import Severity
from clinicflow.runtime import build_runtime
from tests.e2e.conftest import LiveServer, _in_own_thread
from tests.e2e.people import no_horizontal_scroll, sign_in_staff

pytestmark = pytest.mark.browser

WAITING = [
    ("Baraka Mutua", "+254711000101", PatientType.adult),
    ("Neema Achieng", "+254711000102", PatientType.adult),
    ("Zawadi Kamau", "+254711000103", PatientType.child),
]


def _three_waiting(live_server: LiveServer) -> None:
    """Three walk-ins for the doctor today, registered by a receptionist."""

    async def seed() -> None:
        runtime = build_runtime(live_server.settings)
        try:
            async with runtime.transaction() as session:
                desk = await identity.create_user(
                    session=session,
                    actor=None,
                    role=Role.receptionist,
                    name="Rehema Desk",
                    email="desk-settings@e2e.example.com",
                    password="desk-password-1",
                )
                [doctor] = await identity.search_doctors(session)
                for name, phone, patient_type in WAITING:
                    await queues.walk_in(
                        session=session,
                        actor=desk,
                        doctor_id=doctor.id,
                        phone=phone,
                        name=name,
                        severity=Severity.routine,
                        patient_type=patient_type,
                    )
        finally:
            await runtime.close()

    _in_own_thread(lambda: asyncio.run(seed()))


def test_an_admin_changes_the_zone_and_previews_new_weights_before_saving(
    phone_page: Page, live_server: LiveServer, screenshot: Callable[[Page, str], Path]
) -> None:
    _three_waiting(live_server)
    page = phone_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in_staff(page, live_server.admin.email, live_server.admin.password)
    page.wait_for_url("**/home")
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "sw"

    page.goto("/admin/clinic")
    # A refused save: the problem beside its field, the typed value kept.
    page.locator("[data-testid=clinic-public-url]").fill("ftp://afya.example.com")
    page.locator("[data-testid=clinic-name]").fill("Afya Kliniki")
    page.locator("[data-testid=save-clinic]").click()
    expect(page.locator("[data-testid=field-error-public_url]")).to_be_visible()
    expect(page.locator("[data-testid=clinic-public-url]")).to_have_value("ftp://afya.example.com")
    expect(page.locator("[data-testid=clinic-name]")).to_have_value("Afya Kliniki")
    refused = screenshot(page, "admin-clinic-refused-sw")
    page.locator("[data-testid=clinic-public-url]").fill("https://afya.example.com")

    places = page.locator("[data-testid=rules-preview] [data-testid=preview-place]")
    expect(places).to_have_count(3)
    expect(places.first).to_have_attribute("data-token", "1")

    # The time zone: chosen and saved; the page says so and shows the new version.
    page.locator("[data-testid=clinic-timezone]").select_option("Africa/Dar_es_Salaam")
    page.locator("[data-testid=save-clinic]").click()
    expect(page.locator("[data-testid=saved]")).to_be_visible()
    expect(page.locator("[data-testid=clinic-timezone]")).to_have_value("Africa/Dar_es_Salaam")
    expect(page.locator("[data-testid=settings-version]")).to_contain_text("1")

    # The weights: a child first. The preview reorders before anything is saved.
    expect(places).to_have_count(3)
    # Typed and left, as a person does: the change reaches the preview even when the field
    # was typed into while the section was still settling in (a slow phone).
    page.locator("[data-testid='weight-patient_type.child']").fill("10")
    page.locator("[data-testid='weight-patient_type.child']").press("Tab")
    expect(places.first).to_have_attribute("data-token", "3")
    expect(places.nth(1)).to_have_attribute("data-token", "1")
    expect(page.locator("[data-testid=rules-version]")).not_to_contain_text("1")
    no_horizontal_scroll(page)
    shot = screenshot(page, "admin-clinic-sw")
    if os.environ.get("E2E_SHOTS_DIR"):  # kept for a person to look at
        for taken in (refused, shot):
            shutil.copy(taken, Path(os.environ["E2E_SHOTS_DIR"]) / taken.name)

    page.locator("[data-testid=save-rules]").click()
    expect(page.locator("[data-testid=rules-saved]")).to_be_visible()
    expect(page.locator("[data-testid=rules-version]")).to_contain_text("1")
    expect(page.locator("[data-testid='weight-patient_type.child']")).to_have_value("10")
    expect(places.first).to_have_attribute("data-token", "3")
    assert errors == []
