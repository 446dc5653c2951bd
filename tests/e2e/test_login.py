"""Signing in and out in a real browser: staff by password, patients by texted code."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from clinicflow.clinic import phones
from clinicflow.deps import SESSION_COOKIE
from tests.e2e.conftest import LiveServer
from tests.e2e.people import (
    newest_code,
    no_horizontal_scroll,
    path_of,
    sign_in_staff,
)

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]
NEW_PHONE = "+254711000099"


def _request_code(page: Page, phone: str) -> None:
    page.goto("/login/phone")
    form = page.locator("form[action='/login/phone']")
    form.locator("input[name=phone]").fill(phone)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/login/phone/verify\?phone="))
    # The verify form posts the phone back; it must survive the redirect's query string.
    expect(page.locator("form[action='/login/phone/verify'] input[name=phone]")).to_have_value(
        phone
    )


def test_staff_signs_in_with_password_and_a_wrong_one_is_refused(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    admin = live_server.admin
    sign_in_staff(page, admin.email, "not-the-password")
    expect(page.get_by_test_id("form-error")).to_have_text("Email or password is incorrect.")
    assert path_of(page) == "/login"
    expect(page.locator("input[name=email]")).to_have_value(admin.email)
    expect(page.get_by_test_id("welcome")).to_have_count(0)

    page.locator("input[name=password]").fill(admin.password)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url("**/home")
    expect(page.get_by_test_id("welcome")).to_have_text(f"Welcome, {admin.name}")
    expect(page.get_by_test_id("role")).to_have_text("Administrator")
    expect(page.get_by_test_id("logout")).to_be_visible()
    expect(page.get_by_test_id("form-error")).to_have_count(0)
    screenshot(page, "staff-home-desktop")


def test_patient_signs_in_with_the_texted_code(
    phone_page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    page, patient = phone_page, live_server.patient

    _request_code(page, patient.phone)
    expect(page.locator("h1")).to_have_text("Enter your code")
    expect(page.locator("main")).to_contain_text(phones.shown(patient.phone, "KE"))
    code = newest_code(page, live_server, patient.phone)

    page.locator("input[name=code]").fill(code)
    page.locator("form[action='/login/phone/verify'] button[type=submit]").click()
    page.wait_for_url("**/home")
    expect(page.get_by_test_id("welcome")).to_have_text(f"Welcome, {patient.name}")
    expect(page.get_by_test_id("role")).to_have_text("Patient")
    screenshot(page, "patient-home-phone")


def test_a_new_phone_is_asked_for_a_name_before_the_account_is_created(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    _request_code(page, NEW_PHONE)
    code = newest_code(page, live_server, NEW_PHONE)
    form = page.locator("form[action='/login/phone/verify']")
    name = form.locator("input[name=name]")
    expect(name).not_to_have_attribute("required", "")

    form.locator("input[name=code]").fill(code)
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("form-error")).to_have_text(
        "Welcome! Tell us your name to create your account."
    )
    assert path_of(page) == "/login/phone/verify"
    expect(name).to_have_attribute("required", "")
    expect(name).to_be_focused()
    expect(page.get_by_label("Your full name", exact=True)).to_have_attribute("name", "name")
    expect(form.locator("input[name=code]")).to_have_value(code)
    screenshot(page, "new-patient-name-required")

    name.fill("Baraka Mutua")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/home")
    expect(page.get_by_test_id("welcome")).to_have_text("Welcome, Baraka Mutua")
    expect(page.get_by_test_id("role")).to_have_text("Patient")


def test_language_switch_translates_and_persists(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    html, heading = page.locator("html"), page.locator("main h1")
    switch = page.get_by_test_id("language-switch")
    page.goto("/login")
    expect(html).to_have_attribute("lang", "en")
    expect(heading).to_have_text("Staff sign in")
    expect(switch.locator("button[value=en]")).to_have_count(0)

    switch.locator("button[value=sw]").click()
    expect(html).to_have_attribute("lang", "sw")
    assert path_of(page) == "/login"
    expect(heading).not_to_have_text("Staff sign in")
    expect(page.locator("form[action='/login'] button[type=submit]")).to_have_text("Ingia")
    expect(switch.locator("button[value=sw]")).to_have_count(0)
    expect(switch.locator("button[value=en]")).to_have_text("English")
    screenshot(page, "login-swahili-desktop")

    # The choice is a cookie: it follows the user to the next page and through sign-in.
    page.locator("main a[href='/login/phone']").click()
    page.wait_for_url("**/login/phone")
    expect(html).to_have_attribute("lang", "sw")
    expect(heading).not_to_have_text("Patient sign in")
    expect(page.locator("form[action='/login/phone'] button[type=submit]")).not_to_have_text(
        "Send me a code"
    )
    admin = live_server.admin
    sign_in_staff(page, admin.email, admin.password)
    page.wait_for_url("**/home")
    expect(html).to_have_attribute("lang", "sw")
    expect(page.get_by_test_id("welcome")).to_contain_text(admin.name)
    expect(page.get_by_test_id("welcome")).not_to_have_text(f"Welcome, {admin.name}")
    expect(page.get_by_test_id("role")).not_to_have_text("Administrator")

    switch.locator("button[value=en]").click()
    expect(html).to_have_attribute("lang", "en")
    assert path_of(page) == "/home"
    expect(page.get_by_test_id("welcome")).to_have_text(f"Welcome, {admin.name}")
    expect(page.get_by_test_id("role")).to_have_text("Administrator")
    # Sign-in pages send a signed-in user home, in the language now chosen.
    page.goto("/login/phone")
    assert path_of(page) == "/home"
    expect(heading).to_have_text(f"Welcome, {admin.name}")


def test_sign_out_ends_the_session(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    doctor = live_server.doctor
    sign_in_staff(page, doctor.email, doctor.password)
    page.wait_for_url("**/home")
    expect(page.get_by_test_id("role")).to_have_text("Doctor")
    session_cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)

    page.get_by_test_id("logout").click()
    page.wait_for_url("**/login")
    expect(page.locator("main h1")).to_have_text("Staff sign in")
    expect(page.get_by_test_id("logout")).to_have_count(0)
    assert SESSION_COOKIE not in {c["name"] for c in page.context.cookies()}

    page.goto("/home")
    assert path_of(page) == "/login?next=/home"
    expect(page.get_by_test_id("welcome")).to_have_count(0)

    # The old cookie is dead on the server too, not merely deleted from this browser.
    page.context.add_cookies(
        [{"name": SESSION_COOKIE, "value": session_cookie["value"], "url": live_server.base_url}]
    )
    page.goto("/home")
    assert path_of(page) == "/login?next=/home"
    expect(page.get_by_test_id("welcome")).to_have_count(0)
    screenshot(page, "signed-out")


def test_login_pages_fit_a_phone_screen(phone_page: Page, screenshot: Screenshot) -> None:
    page = phone_page
    assert page.viewport_size == {"width": 390, "height": 844}
    page.goto("/login")
    expect(page.locator("main h1")).to_be_visible()
    no_horizontal_scroll(page)
    screenshot(page, "login-phone")

    page.goto("/login/phone")
    no_horizontal_scroll(page)
    page.get_by_test_id("language-switch").locator("button[value=sw]").click()
    expect(page.locator("html")).to_have_attribute("lang", "sw")
    no_horizontal_scroll(page)
    page.goto("/login")
    no_horizontal_scroll(page)
