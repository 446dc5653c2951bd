"""Background Sync (issue 19): a walk-in the desk kept offline is sent by the service
worker's `sync` event, with no reload and no `online` event reaching the page, and the
page's list shows what became of it. Chromium fires the sync through the DevTools protocol
(`ServiceWorker.dispatchSyncEvent`), as the browser does when the network returns."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer, StaffAccount
from tests.e2e.people import register_walk_in, sign_in_staff
from tests.e2e.test_install import wait_for_worker
from tests.e2e.test_offline_desk import _tokens_by_phone

pytestmark = pytest.mark.browser

TAG = "clinicflow-outbox"
NAME, PHONE = "Baraka Mutua", "+254711000071"


def test_the_service_workers_sync_sends_a_walk_in_kept_offline(
    phone_page: Page, live_server: LiveServer, receptionist: StaffAccount
) -> None:
    page = phone_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The page's own sends on `online` are kept out: its scripts never get to listen for it.
    page.add_init_script(
        "const listen = window.addEventListener;"
        "window.addEventListener = function (type, ...rest) {"
        "  if (type !== 'online') listen.call(this, type, ...rest);"
        "};"
    )
    sign_in_staff(page, receptionist.email, receptionist.password)
    page.wait_for_url("**/home")
    page.goto("/desk/queue")
    wait_for_worker(page)
    # A mark that shows the page is never reloaded (a load would send too).
    page.evaluate("window.notReloaded = true")

    page.context.set_offline(True)
    register_walk_in(page, live_server.doctor.name, NAME, PHONE)
    pending = page.locator("[data-testid=outbox-item][data-state=pending]")
    expect(pending).to_have_count(1)
    tags = page.evaluate("navigator.serviceWorker.ready.then((r) => r.sync.getTags())")
    assert TAG in tags
    assert _tokens_by_phone(live_server) == {}

    page.context.set_offline(False)
    session = page.context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    session.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    session.send("ServiceWorker.enable")
    page.wait_for_function("navigator.serviceWorker.ready.then(() => true)")
    scope = f"{live_server.base_url}/"
    found = [row for row in registrations if row["scopeURL"] == scope and not row["isDeleted"]]
    assert found, registrations
    session.send(
        "ServiceWorker.dispatchSyncEvent",
        {
            "origin": live_server.base_url,
            "registrationId": found[0]["registrationId"],
            "tag": TAG,
            "lastChance": False,
        },
    )

    applied = page.locator("[data-testid=outbox-item][data-state=applied]")
    expect(applied).to_have_count(1)
    expect(applied).to_contain_text(NAME)
    expect(applied.get_by_test_id("outbox-state")).to_contain_text("1")
    assert _tokens_by_phone(live_server) == {PHONE: [1]}
    assert page.evaluate("window.notReloaded === true")
    assert errors == []
