"""Reading offline (issue 19) in Chromium: the patient's waiting room reloads without network
and shows the last token with "offline since"; the desk's queues likewise; signing out
removes the copy (IndexedDB and caches checked), and a signed-out browser keeps none."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.identity.models import User
from clinicflow.queue import service as queues
from clinicflow.queue.schemas import Severity
from clinicflow.runtime import build_runtime
from tests.e2e.conftest import LiveServer, _in_own_thread
from tests.e2e.people import sign_in_patient, sign_in_staff

pytestmark = pytest.mark.browser

COPY = """() => indexedDB.databases().then(found => found.some(d => d.name === "clinicflow-offline")
  ? new Promise((ok) => {
  const req = indexedDB.open("clinicflow-offline");
  req.onsuccess = () => {
    const db = req.result;
    if (!db.objectStoreNames.contains("items")) { db.close(); ok([]); return; }
    const all = db.transaction("items").objectStore("items").getAllKeys();
    all.onsuccess = () => { db.close(); ok(all.result); };
  };
  req.onerror = () => ok([]);
}) : [])"""
CACHED_URLS = """() => caches.keys().then(names => Promise.all(names.map(n => caches.open(n)
  .then(c => c.keys())))).then(all => all.flat().map(r => r.url))"""


def _run(live_server: LiveServer, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    answer: list[Any] = []

    async def go() -> None:
        runtime = build_runtime(live_server.settings)
        try:
            async with runtime.transaction() as session:
                answer.append(await work(session))
        finally:
            await runtime.close()

    _in_own_thread(lambda: asyncio.run(go()))
    return answer[0]


def _patient_in_the_queue(live_server: LiveServer) -> int:
    """Two walk-ins, the seeded patient second: their token is 2."""

    async def seed(session: AsyncSession) -> int:
        admin = await session.scalar(select(User).where(User.email == live_server.admin.email))
        doctor = await session.scalar(select(User).where(User.email == live_server.doctor.email))
        assert admin is not None
        assert doctor is not None
        token = 0
        for phone, name in (("+254711000077", "Baraka Mutua"), (live_server.patient.phone, "")):
            entry = await queues.walk_in(
                session=session,
                actor=admin,
                doctor_id=doctor.id,
                phone=phone,
                name=name or live_server.patient.name,
                severity=Severity.routine,
                patient_type=None,
            )
            token = entry.token
        return token

    token: int = _run(live_server, seed)
    return token


def _controlled(page: Page) -> None:
    """Once the worker is active, every load is controlled by it: the page that registered
    it may have come first, so it is loaded again when it is not yet."""
    page.wait_for_function("navigator.serviceWorker.ready.then(() => true)", timeout=30_000)
    if not page.evaluate("navigator.serviceWorker.controller !== null"):
        page.reload()
    assert page.evaluate("navigator.serviceWorker.controller !== null")


def _wait_for_copy(page: Page, key_prefix: str) -> None:
    page.wait_for_function(
        f"({COPY})().then(keys => keys.some(k => k.startsWith('{key_prefix}')))", polling=200
    )


def test_the_waiting_room_reloads_offline_with_the_last_token_and_sign_out_wipes_it(
    phone_page: Page, live_server: LiveServer, screenshot: Callable[[Page, str], Path]
) -> None:
    page = phone_page
    token = _patient_in_the_queue(live_server)
    page.context.add_cookies([{"name": "cf_lang", "value": "sw", "url": live_server.base_url}])
    sign_in_patient(page, live_server, live_server.patient.phone)
    page.goto("/queue")
    _controlled(page)
    _wait_for_copy(page, "queue_entry:")

    page.context.set_offline(True)
    page.reload()
    shell = page.get_by_test_id("offline-shell")
    expect(shell).to_be_visible()
    expect(page.get_by_test_id("offline-since")).to_contain_text("Nje ya mtandao tangu")
    places = page.get_by_test_id("offline-places")
    expect(places).to_contain_text(f"Namba {token}")
    expect(places).to_contain_text("Dr. Amani Otieno")
    screenshot(page, "offline-waiting-room-sw")
    page.context.set_offline(False)

    page.goto("/home")
    page.get_by_test_id("menu-button").click()
    page.get_by_test_id("logout").click()
    page.wait_for_url("**/login**")
    page.wait_for_function(f"({COPY})().then(keys => keys.length === 0)")
    cached = page.evaluate(CACHED_URLS)
    assert not [url for url in cached if "/api/" in url or url.endswith("/queue")], cached
    # Offline again, signed out: the shell has nothing of anyone's to show.
    page.context.set_offline(True)
    page.goto("/queue")
    expect(page.get_by_test_id("offline-shell")).to_be_visible()
    expect(page.get_by_test_id("offline-places")).to_be_hidden()
    expect(page.get_by_test_id("offline-since")).to_be_hidden()
    page.context.set_offline(False)


def test_the_desks_queues_of_today_read_offline(page: Page, live_server: LiveServer) -> None:
    _patient_in_the_queue(live_server)
    sign_in_staff(page, live_server.admin.email, live_server.admin.password)
    page.wait_for_url("**/home")
    _controlled(page)
    _wait_for_copy(page, "queue:")
    page.context.set_offline(True)
    page.goto("/desk/queue")
    queues_shown = page.get_by_test_id("offline-queues")
    expect(queues_shown).to_contain_text("Dr. Amani Otieno")
    expect(queues_shown).to_contain_text("Baraka Mutua")
    expect(queues_shown).to_contain_text(live_server.patient.name)
    expect(page.get_by_test_id("offline-since")).to_contain_text("Offline since")
    page.context.set_offline(False)
