"""The admin opens analytics on a phone, in Swahili, and downloads its CSV.

A few visits are made through the services first, on the live server's database and the
real clock, so the page has figures, a chart and tables to show.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page

from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.queue import service as queues
from clinicflow.queue.schemas import Severity
from clinicflow.runtime import build_runtime
from tests.e2e.conftest import LiveServer, _in_own_thread
from tests.e2e.people import axe_violations, follow_menu_link, sign_in_staff

pytestmark = pytest.mark.browser
Screenshot = Callable[[Page, str], Path]


def _seed_visits(live_server: LiveServer) -> None:
    async def seed() -> None:
        runtime = build_runtime(live_server.settings)
        try:
            async with runtime.transaction() as session:
                desk = await identity.create_user(
                    session=session,
                    actor=None,
                    role=Role.receptionist,
                    name="Analytics Desk",
                    email="analytics-desk@e2e.example.com",
                    password="desk-password-2",
                )
                (doctor,) = await identity.search_doctors(session)
                for n in range(3):
                    await queues.walk_in(
                        session=session,
                        actor=desk,
                        doctor_id=doctor.id,
                        phone=f"+25472200000{n}",
                        name=f"Mgonjwa {n}",
                        severity=Severity.routine,
                        patient_type=None,
                    )
            async with runtime.transaction() as session:
                _state, entry = await queues.call_next(
                    session=session, actor=doctor, doctor_id=doctor.id
                )
            async with runtime.transaction() as session:
                await queues.finish(session=session, actor=doctor, entry_id=entry.id)
        finally:
            await runtime.close()

    _in_own_thread(lambda: asyncio.run(seed()))


def test_the_admin_opens_analytics_and_downloads_the_csv(
    phone_page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    _seed_visits(live_server)
    page = phone_page
    sign_in_staff(page, live_server.admin.email, live_server.admin.password)
    page.wait_for_url("**/home")
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    page.wait_for_load_state("networkidle")
    follow_menu_link(page, "/analytics")
    page.wait_for_url("**/analytics")
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-figure=visits]").inner_text() == "3"
    assert page.locator("[data-figure=completed]").inner_text() == "1"
    page.locator(".chart .uplot").first.wait_for()  # the vendored uPlot drew the chart

    violations = [
        violation["id"]
        for violation in axe_violations(page)
        if violation["impact"] in {"serious", "critical"}
    ]
    assert violations == []

    screenshot(page, "analytics-admin-sw-390x844")

    with page.expect_download() as download_info:
        page.get_by_test_id("csv-all").click()
    download = download_info.value
    assert download.suggested_filename.startswith("analytics-")
    text = Path(download.path()).read_text()
    assert "summary,,visits,3" in text
    assert "summary,,completed,1" in text


def test_the_doctor_sees_their_analytics_in_swahili(
    phone_page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    _seed_visits(live_server)
    page = phone_page
    sign_in_staff(page, live_server.doctor.email, live_server.doctor.password)
    page.wait_for_url("**/home")
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    page.wait_for_load_state("networkidle")
    page.goto("/analytics")
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-figure=visits]").inner_text() == "3"
    assert page.get_by_test_id("by-channel").count() == 0
    screenshot(page, "analytics-doctor-sw-390x844")
