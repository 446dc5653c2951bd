"""The admin after an SMS provider's outage, on a phone in Swahili: each failed delivery
shows its attempts with the provider's answer, and "Retry failed" sends every failed
delivery of the filter again after a confirmation on the page."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.notifications import service as notifications
from clinicflow.notifications.schemas import Kind
from clinicflow.runtime import build_runtime
from tests.e2e.conftest import LiveServer, _in_own_thread
from tests.e2e.people import axe_violations, sign_in_staff

pytestmark = pytest.mark.browser

PROVIDER_ANSWER = 'twilio 503: {"code": 20503, "message": "Service Unavailable"}'


def _fail_deliveries(live_server: LiveServer, count: int) -> None:
    """Write `count` booking confirmations to the demo patient and record each SMS as
    refused, in the transaction that wrote them, so the server's own dispatcher never
    sees them pending."""

    async def seed() -> None:
        runtime = build_runtime(live_server.settings)
        try:
            async with runtime.transaction() as session:
                patient = await identity.create_user(
                    session=session,
                    actor=None,
                    role=Role.patient,
                    name="Baraka Mwita",
                    phone="+254711000099",
                )
                for _ in range(count):
                    await notifications.notify(
                        session,
                        user_id=patient.id,
                        kind=Kind.booking_confirmed,
                        values={
                            "doctor": "Dr. Amani Otieno",
                            "when": "2026-12-07 10:00",
                            "link": "",
                        },
                    )
                claimed = await notifications.claim_due(
                    session=session, limit=100, lease_seconds=600
                )
                await notifications.record(
                    session=session,
                    outcomes=[
                        notifications.Outcome(
                            message.delivery_id,
                            message.attempt,
                            error=PROVIDER_ANSWER,
                            status_code=503,
                            permanent=True,
                        )
                        for message in claimed
                    ],
                )
        finally:
            await runtime.close()

    _in_own_thread(lambda: asyncio.run(seed()))


def test_the_admin_sees_why_and_retries_every_failed_sms_at_once(
    phone_page: Page, live_server: LiveServer, screenshot: Callable[[Page, str], Path]
) -> None:
    _fail_deliveries(live_server, 2)
    page = phone_page
    sign_in_staff(page, live_server.admin.email, live_server.admin.password)
    page.wait_for_url("**/home")
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    page.wait_for_load_state("networkidle")
    page.goto("/admin/deliveries?status=gave_up")
    rows = page.locator("[data-testid=delivery][data-status=gave_up]")
    expect(rows).to_have_count(2)
    attempts = rows.first.locator("[data-testid=attempts]")
    attempts.locator("summary").click()
    expect(attempts.locator("[data-testid=attempt]")).to_contain_text("HTTP 503")
    expect(attempts.locator("[data-testid=attempt]")).to_contain_text("Service Unavailable")
    # On a phone each delivery is a card: no column hides past its region's right edge.
    table = page.get_by_test_id("deliveries")
    assert table.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth")

    # Nothing happens on the first click: the page asks first.
    retry_all = page.locator("[data-testid=retry-all]")
    retry_all.locator("summary").click()
    confirm = page.locator("[data-testid=retry-all-confirm]")
    expect(confirm).to_be_visible()
    expect(rows).to_have_count(2)
    violations = [v["id"] for v in axe_violations(page) if v["impact"] in ("serious", "critical")]
    assert violations == []
    screenshot(page, "deliveries-sw")

    confirm.click()
    expect(page.locator("[data-testid=retried]")).to_contain_text("2")
    # The server's dispatcher sends them again (to the development outbox here).
    page.goto("/admin/deliveries?status=gave_up")
    expect(page.locator("[data-testid=delivery][data-status=gave_up]")).to_have_count(0)
