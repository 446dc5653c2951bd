"""An admin adds a doctor in the browser; the doctor signs in with the temporary password,
is sent to choose their own, and then reaches their home page. Screenshots of each staff
page on a phone in Swahili are also copied to the folder `CLINICFLOW_SHOTS` names, when set,
for a reviewer to look at."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.people import no_horizontal_scroll, path_of, sign_in_staff

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]
NEW_PASSWORD = "neema-own-password"


def _shot(page: Page, screenshot: Screenshot, name: str) -> None:
    """The test's screenshot, and a copy for the reviewer when they asked for one."""
    path = screenshot(page, name)
    folder = os.environ.get("CLINICFLOW_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / path.name).write_bytes(path.read_bytes())


def _in_swahili(page: Page) -> None:
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    page.wait_for_load_state("networkidle")


def test_an_admin_creates_a_doctor_who_must_change_the_temporary_password(
    phone_page: Page, browser: Browser, live_server: LiveServer, screenshot: Screenshot
) -> None:
    admin = phone_page
    sign_in_staff(admin, live_server.admin.email, live_server.admin.password)
    admin.wait_for_url("**/home")
    _in_swahili(admin)
    admin.goto("/admin/users")
    form = admin.get_by_test_id("create-staff")
    form.get_by_test_id("new-role").select_option("doctor")
    form.get_by_test_id("new-name").fill("Dr. Neema Wanjiru")
    form.get_by_test_id("new-email").fill("neema@e2e.example.com")
    form.get_by_test_id("credential-temporary_password").check()
    _shot(admin, screenshot, "users-list-sw")
    form.get_by_test_id("create-submit").click()

    secret = admin.get_by_test_id("temporary-password")
    expect(secret).to_be_visible()
    temporary = secret.input_value()
    assert len(temporary) >= 12
    no_horizontal_scroll(admin)
    _shot(admin, screenshot, "handover-sw")

    admin.get_by_role("link", name="Fungua ukurasa wake").click()
    expect(admin.get_by_test_id("user-role")).to_have_text("Daktari")
    no_horizontal_scroll(admin)
    _shot(admin, screenshot, "user-page-sw")
    admin.get_by_test_id("doctor-profile-link").click()
    expect(admin.get_by_test_id("doctor-profile")).to_be_visible()
    _shot(admin, screenshot, "doctor-profile-sw")
    admin.goto("/admin/specialties")
    admin.get_by_test_id("name-en").fill("Paediatrics")
    admin.get_by_test_id("name-sw").fill("Magonjwa ya watoto")
    admin.locator("form[data-testid=add-specialty] button[type=submit]").click()
    expect(admin.get_by_test_id("specialty-row")).to_have_count(1)
    no_horizontal_scroll(admin)
    _shot(admin, screenshot, "specialties-sw")

    context = browser.new_context(
        base_url=live_server.base_url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    try:
        doctor = context.new_page()
        sign_in_staff(doctor, "neema@e2e.example.com", temporary)
        doctor.wait_for_url(re.compile(r"/password\?next="))
        expect(doctor.get_by_test_id("forced")).to_be_visible()
        doctor.goto("/home")
        assert path_of(doctor).startswith("/password")
        _in_swahili(doctor)
        _shot(doctor, screenshot, "password-sw")
        doctor.get_by_test_id("current-password").fill(temporary)
        doctor.get_by_test_id("new-password").fill(NEW_PASSWORD)
        doctor.get_by_test_id("repeated-password").fill(NEW_PASSWORD)
        doctor.get_by_test_id("password-submit").click()
        doctor.wait_for_url("**/home")
        expect(doctor.get_by_test_id("welcome")).to_contain_text("Dr. Neema Wanjiru")
    finally:
        context.close()
