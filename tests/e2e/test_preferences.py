"""Notification preferences on a phone, in Swahili: every channel of every message can be
seen and ticked without scrolling sideways (the table becomes a card per message)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.people import no_horizontal_scroll, serious_problems, sign_in_patient

pytestmark = pytest.mark.browser


def test_every_channel_is_within_the_phones_width(
    phone_page: Page, live_server: LiveServer, screenshot: Callable[[Page, str], Path]
) -> None:
    page = phone_page
    sign_in_patient(page, live_server, live_server.patient.phone)
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    page.wait_for_load_state("networkidle")
    page.goto("/notifications/preferences")
    no_horizontal_scroll(page)
    width = page.viewport_size["width"] if page.viewport_size else 0
    boxes = page.locator("[data-testid=preferences] input[type=checkbox]")
    expect(boxes.first).to_be_visible()
    for index in range(boxes.count()):
        box = boxes.nth(index).bounding_box()
        assert box is not None
        assert box["x"] >= 0, index
        assert box["x"] + box["width"] <= width, index
    assert serious_problems(page) == []
    screenshot(page, "preferences-sw-phone")
