"""The installable app in Chromium: a valid manifest, a service worker that controls the
page after the first load, and the offline shell for a page asked for without network."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.people import sign_in_staff

pytestmark = pytest.mark.browser


def wait_for_worker(page: Page) -> None:
    """The worker the first load registered is active, and the next load is controlled."""
    page.wait_for_function("navigator.serviceWorker.ready.then(() => true)", timeout=30_000)
    page.reload()
    assert page.evaluate("navigator.serviceWorker.controller !== null")


def test_the_manifest_is_valid_and_its_icons_load(page: Page, live_server: LiveServer) -> None:
    sign_in_staff(page, live_server.doctor.email, live_server.doctor.password)
    page.wait_for_url("**/home")
    href = page.locator("link[rel=manifest]").get_attribute("href")
    assert href == "/manifest.webmanifest"
    manifest: dict[str, Any] = page.evaluate(
        "fetch('/manifest.webmanifest', {credentials: 'include'}).then(r => r.json())"
    )
    assert manifest["name"] == "clinicflow"
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "/doctor/queue"
    assert manifest["theme_color"].startswith("#")
    sizes = {(icon["sizes"], icon.get("purpose", "any")) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        if icon["type"] != "image/png":
            continue
        width = page.evaluate(
            """src => new Promise((ok, fail) => {
                const img = new Image(); img.onload = () => ok(img.naturalWidth);
                img.onerror = fail; img.src = src; })""",
            icon["src"],
        )
        assert f"{width}x{width}" == icon["sizes"]


def test_the_worker_controls_the_page_after_the_first_load_and_serves_the_shell_offline(
    page: Page, live_server: LiveServer
) -> None:
    page.goto("/login")
    wait_for_worker(page)
    kept = page.evaluate(
        "caches.keys().then(names => Promise.all(names.map(n => caches.open(n)"
        ".then(c => c.keys())))).then(all => all.flat().map(r => r.url))"
    )
    assert any("/static/css/app.css?v=" in url for url in kept)
    assert any(url.endswith("/offline") or "/offline?" in url for url in kept)
    page.context.set_offline(True)
    page.goto("/home")
    expect(page.get_by_test_id("offline-shell")).to_be_visible()
    page.context.set_offline(False)
