"""The admin's audit log on a phone, in Swahili: the chain's banner, a row opened to its
details, a filter whose CSV link follows it, and the banner turning red on a tampered row."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.people import axe_violations, sign_in_staff

pytestmark = pytest.mark.browser

# Where to keep a copy of the screenshots for people to look at (CLINICFLOW_SHOTS); unset, they
# stay in the test's own temporary directory.
SHOTS = os.environ.get("CLINICFLOW_SHOTS")
Screenshot = Callable[[Page, str], Path]


def _keep(screenshot: Screenshot, page: Page, name: str) -> None:
    taken = screenshot(page, name)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(taken, Path(SHOTS) / f"{name}.png")


def _serious(page: Page) -> list[str]:
    results = axe_violations(page)
    return [
        f"{violation['id']} ({violation['impact']})"
        for violation in results
        if violation["impact"] in {"serious", "critical"}
    ]


def test_an_admin_reads_the_trail_and_sees_a_tampered_row(
    phone_page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    page = phone_page
    sign_in_staff(page, live_server.admin.email, live_server.admin.password)
    page.wait_for_url("**/home")
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    page.wait_for_load_state("networkidle")

    page.goto("/admin/audit")
    banner = page.get_by_test_id("chain")
    expect(banner).to_have_attribute("data-intact", "true")
    expect(banner).to_contain_text("Mnyororo uko salama hadi safu ya")
    rows = page.get_by_test_id("audit-row")
    expect(rows.first).to_be_visible()
    count = rows.count()
    assert count >= 1
    newest = rows.first
    newest.locator("summary").click()
    expect(newest.locator("dl")).to_be_visible()
    expect(newest.locator("dl")).to_contain_text("Nani")
    expect(newest.locator("pre")).to_be_visible()
    assert _serious(page) == []
    _keep(screenshot, page, "audit-sw-intact")

    # A filter narrows the rows and the CSV link carries it.
    page.locator("details.audit-filters summary").click()
    action = page.locator("select[name=action] option").nth(1).get_attribute("value")
    assert action
    page.locator("select[name=action]").select_option(action)
    page.locator("form[data-testid=audit-filters] button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/admin/audit\?.*action={re.escape(action)}"))
    assert (page.get_by_test_id("audit-csv").get_attribute("href") or "").endswith(
        f"/api/admin/audit.csv?action={action}"
    )
    _keep(screenshot, page, "audit-sw-filtered")

    database = live_server.settings.database_url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(database) as connection:
        connection.execute(
            "UPDATE audit_log SET details = ? WHERE seq = 1", (json.dumps({"forged": True}),)
        )
    page.goto("/admin/audit")
    banner = page.get_by_test_id("chain")
    expect(banner).to_have_attribute("data-intact", "false")
    expect(banner).to_contain_text("Mnyororo ulibadilishwa kwenye safu ya 1")
    assert _serious(page) == []
    _keep(screenshot, page, "audit-sw-altered")
