"""The header on a phone: one short row (brand, language, bell, menu) so the page starts
near the top, the links behind a menu button; on a wide screen the links sit in the row."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.people import no_horizontal_scroll, serious_problems, sign_in_staff

pytestmark = pytest.mark.browser

# The issue measured 189 px of 844 (236 in Swahili); one row of buttons is under 60.
PHONE_HEADER_MAX_PX = 64


def header_height(page: Page) -> float:
    height: float = page.evaluate("document.querySelector('header').getBoundingClientRect().height")
    return height


def test_on_a_phone_the_header_is_one_row_and_the_links_open_from_a_menu(
    phone_page: Page, live_server: LiveServer, screenshot: Callable[[Page, str], Path]
) -> None:
    page = phone_page
    sign_in_staff(page, live_server.doctor.email, live_server.doctor.password)
    page.wait_for_url("**/home")
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    page.wait_for_load_state("networkidle")
    assert header_height(page) <= PHONE_HEADER_MAX_PX
    no_horizontal_scroll(page)
    assert serious_problems(page) == []
    queue_link = page.locator("header a[href='/doctor/queue']")
    expect(queue_link).to_be_hidden()
    expect(page.get_by_test_id("logout")).to_be_hidden()

    page.get_by_test_id("menu-button").click()
    expect(queue_link).to_be_visible()
    expect(page.get_by_test_id("logout")).to_be_visible()
    assert serious_problems(page) == []
    screenshot(page, "header-menu-open-sw")
    # The open menu lies over the page; the header keeps its one row.
    assert header_height(page) <= PHONE_HEADER_MAX_PX
    queue_link.click()
    page.wait_for_url("**/doctor/queue")
    expect(page.get_by_test_id("menu-button")).to_be_visible()
    expect(queue_link).to_be_hidden()


def test_on_a_wide_screen_the_links_sit_in_the_header(page: Page, live_server: LiveServer) -> None:
    sign_in_staff(page, live_server.doctor.email, live_server.doctor.password)
    page.wait_for_url("**/home")
    expect(page.get_by_test_id("menu-button")).to_be_hidden()
    expect(page.locator("header a[href='/doctor/queue']")).to_be_visible()
    expect(page.get_by_test_id("logout")).to_be_visible()
