"""Phones in a real browser, on a phone, in Swahili (issue 18): a patient signs in with the
number as Kenyans write it, the desk registers a walk-in the same way, and both pages show
numbers in national format."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.people import axe_violations, newest_code, no_horizontal_scroll, sign_in_staff

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]
SERIOUS = {"serious", "critical"}


def _in_swahili(page: Page) -> None:
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("html")).to_have_attribute("lang", "sw")


def _serious_problems(page: Page) -> list[str]:
    results = axe_violations(page)
    return [
        f"{violation['id']} ({violation['impact']})"
        for violation in results
        if violation["impact"] in SERIOUS
    ]


def test_a_patient_signs_in_in_swahili_with_a_national_number(
    phone_page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    page = phone_page
    page.goto("/login/phone")
    _in_swahili(page)
    form = page.locator("form[action='/login/phone']")
    expect(form.locator("input[name=phone]")).to_have_attribute("placeholder", "0712 123456")
    form.locator("input[name=phone]").fill("0711 000 001")  # Amina's +254711000001
    screenshot(page, "phone-sign-in-national-sw")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/login/phone/verify\?phone=%2B254711000001"))
    expect(page.locator("main")).to_contain_text("0711 000001")
    expect(page.locator("main")).not_to_contain_text("+254711000001")
    no_horizontal_scroll(page)
    assert _serious_problems(page) == []
    screenshot(page, "phone-code-national-sw")
    verify = page.locator("form[action='/login/phone/verify']")
    verify.locator("input[name=code]").fill(
        newest_code(page, live_server, live_server.patient.phone)
    )
    verify.locator("button[type=submit]").click()
    page.wait_for_url("**/home")


def test_a_bad_number_is_explained_in_swahili(
    phone_page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    page = phone_page
    page.goto("/login/phone")
    _in_swahili(page)
    form = page.locator("form[action='/login/phone']")
    form.locator("input[name=phone]").fill("0711 00")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("form-error")).to_have_text(
        "Weka nambari yako ya simu, kama 0712 123456."
    )
    expect(form.locator("input[name=phone]")).to_have_value("0711 00")
    screenshot(page, "phone-sign-in-error-sw")


def test_the_desk_registers_a_walk_in_typed_nationally_in_swahili(
    phone_page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    page = phone_page
    sign_in_staff(page, live_server.admin.email, live_server.admin.password)
    page.wait_for_url("**/home")
    _in_swahili(page)
    page.goto("/desk/queue")
    form = page.locator("[data-testid=walk-in-form]")
    form.locator("select[name=doctor_id]").select_option(index=1)
    form.locator("input[name=phone]").fill("0733 000 124")
    form.locator("input[name=name]").fill("Bi Rehema")
    screenshot(page, "walk-in-national-sw")
    form.get_by_test_id("walk-in-submit").click()
    page.get_by_test_id("receipt").wait_for()
    page.goto("/desk/book?q=0733+000+124")
    found = page.get_by_test_id("patient")
    expect(found).to_have_text("Bi Rehema")
    expect(page.locator("main")).to_contain_text("0733 000124")
    expect(page.locator("main")).not_to_contain_text("+254733000124")
    no_horizontal_scroll(page)
    screenshot(page, "desk-search-national-sw")
