"""Reading offline (issue 19) in Chromium: a page a person needs, reloaded without network,
shows its last-seen state with "offline since" (the patient's waiting room, in English and
Swahili; the doctor's queue; the desk's queues), and signing out leaves no clinical data in
the browser (IndexedDB and caches checked), so the next reload offline shows nobody's.

Each step waits on a state the page exposes, never on time: the service worker controlling
the page (`navigator.serviceWorker.controller`), and the page's state kept on the device
(`<html data-offline-kept>`, set once the write has committed)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from clinicflow.queue import service as queues
from clinicflow.queue.schemas import Severity
from clinicflow.runtime import build_runtime
from tests.e2e.conftest import LiveServer, StaffAccount, _in_own_thread, _people
from tests.e2e.people import (
    Screenshot,
    keep_shot,
    serious_problems,
    sign_in_patient,
    sign_in_staff,
    user_where,
    wait_until,
)

pytestmark = pytest.mark.browser

WALK_IN = ("Baraka Mutua", "+254711000066")
SINCE = re.compile(r"^Offline since \d\d:\d\d$")
SINCE_SW = re.compile(r"^Nje ya mtandao tangu \d\d:\d\d$")


def _seed_queue(live_server: LiveServer, receptionist: StaffAccount) -> None:
    """Baraka (token 1) is with the doctor; the patient waits with token 2."""

    async def seed() -> None:
        runtime = build_runtime(live_server.settings)
        try:
            async with runtime.transaction() as session:
                doctor = await user_where(session, email=live_server.doctor.email)
                desk = await user_where(session, email=receptionist.email)
                for name, phone in (WALK_IN, (live_server.patient.name, live_server.patient.phone)):
                    await queues.walk_in(
                        session=session,
                        actor=desk,
                        doctor_id=doctor.id,
                        phone=phone,
                        name=name,
                        severity=Severity.routine,
                        patient_type=None,
                    )
                await queues.call_next(session=session, actor=doctor, doctor_id=doctor.id)
        finally:
            await runtime.close()

    _in_own_thread(lambda: asyncio.run(seed()))


def _kept(page: Page) -> None:
    """The worker controls the page and the page's state is on the device.

    A page loaded while the first worker installs may miss its `clients.claim()` (a
    navigation under way as the worker activates), so once a worker is active the page is
    loaded again, which it then always controls."""
    assert page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    assert page.evaluate("() => navigator.serviceWorker.controller !== null")
    expect(page.locator("html")).to_have_attribute("data-offline-kept", re.compile(r"."))


def _reload_offline(page: Page) -> None:
    page.context.set_offline(True)
    page.reload()
    expect(page.get_by_test_id("offline-shell")).to_be_visible()


def test_the_waiting_room_and_home_reload_offline_with_the_last_token_in_both_languages(
    phone_page: Page,
    live_server: LiveServer,
    receptionist: StaffAccount,
    screenshot: Screenshot,
) -> None:
    page = phone_page
    _seed_queue(live_server, receptionist)
    sign_in_patient(page, live_server, live_server.patient.phone)
    page.goto("/queue")
    expect(page.get_by_test_id("my-token")).to_have_text("2")
    expect(page.get_by_test_id("serving-token")).to_have_text("1")
    expect(page.get_by_test_id("position")).not_to_be_empty()
    position = page.get_by_test_id("position").inner_text()
    _kept(page)

    _reload_offline(page)
    kept = page.get_by_test_id("offline-kept")
    expect(page.get_by_test_id("offline-since")).to_have_text(SINCE)
    expect(kept.get_by_test_id("my-token")).to_have_text("2")
    expect(kept.get_by_test_id("serving-token")).to_have_text("1")
    expect(kept.get_by_test_id("position")).to_have_text(position)
    # Only reading: nothing on the kept page can post or run.
    expect(kept.locator("form, button, script")).to_have_count(0)
    assert page.locator("html").get_attribute("lang") == "en"

    # The home page keeps the patient's tokens and latest prescription.
    page.context.set_offline(False)
    page.goto("/home")
    expect(page.get_by_test_id("token")).to_contain_text("2")
    _kept(page)
    _reload_offline(page)
    home = page.get_by_test_id("offline-kept")
    expect(home.get_by_test_id("token")).to_contain_text("2")
    expect(home.get_by_test_id("last-prescription")).to_be_visible()

    page.context.set_offline(False)
    page.goto("/queue")
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    expect(page.locator("html")).to_have_attribute("lang", "sw")
    expect(page.get_by_test_id("my-token")).to_have_text("2")
    _kept(page)
    _reload_offline(page)
    expect(page.get_by_test_id("offline-since")).to_have_text(SINCE_SW)
    expect(page.get_by_test_id("offline-kept").get_by_test_id("my-token")).to_have_text("2")
    assert page.locator("html").get_attribute("lang") == "sw"
    assert serious_problems(page) == []
    keep_shot(screenshot, page, "offline-waiting-room-sw")

    page.context.set_offline(False)
    page.goto("/home")
    expect(page.get_by_test_id("token")).to_contain_text("2")
    _kept(page)
    _reload_offline(page)
    expect(page.get_by_test_id("offline-since")).to_have_text(SINCE_SW)
    expect(page.get_by_test_id("offline-kept").get_by_test_id("token")).to_contain_text("2")
    keep_shot(screenshot, page, "offline-home-sw")
    page.context.set_offline(False)


def test_the_doctors_queue_and_the_desks_queues_reload_offline(
    browser: Browser, live_server: LiveServer, receptionist: StaffAccount, screenshot: Screenshot
) -> None:
    _seed_queue(live_server, receptionist)
    with _people(browser, live_server.base_url, False, True) as (doctor, desk):
        sign_in_staff(doctor, live_server.doctor.email, live_server.doctor.password)
        doctor.wait_for_url("**/home")
        doctor.goto("/doctor/queue")
        expect(doctor.get_by_test_id("current-token")).to_have_text("1")
        _kept(doctor)
        _reload_offline(doctor)
        expect(doctor.get_by_test_id("offline-since")).to_have_text(SINCE)
        kept = doctor.get_by_test_id("offline-kept")
        expect(kept.get_by_test_id("current-token")).to_have_text("1")
        expect(kept.get_by_test_id("queue-row")).to_have_count(1)
        expect(kept.get_by_test_id("queue-row")).to_contain_text(live_server.patient.name)
        doctor.context.set_offline(False)

        desk.context.add_cookies([{"name": "cf_lang", "value": "sw", "url": live_server.base_url}])
        sign_in_staff(desk, receptionist.email, receptionist.password)
        desk.wait_for_url("**/home")
        desk.goto("/desk/queue")
        expect(desk.get_by_test_id("doctor-queue")).to_contain_text(live_server.doctor.name)
        # The desk sees who is with the doctor and who waits.
        expect(desk.get_by_test_id("doctor-queue").get_by_test_id("queue-row")).to_have_count(2)
        _kept(desk)
        _reload_offline(desk)
        expect(desk.get_by_test_id("offline-since")).to_have_text(SINCE_SW)
        queue = desk.get_by_test_id("offline-kept").get_by_test_id("doctor-queue")
        expect(queue).to_contain_text(live_server.doctor.name)
        expect(queue.get_by_test_id("queue-row")).to_have_count(2)
        expect(queue).to_contain_text(live_server.patient.name)
        assert serious_problems(desk) == []
        keep_shot(screenshot, desk, "offline-desk-queues-sw")
        desk.context.set_offline(False)


# A stand-in for another module's clinical data: the desk's outbox (task C) and a cache.
PLANT = """async () => {
  await new Promise((resolve, reject) => {
    const request = indexedDB.open("clinicflow-outbox", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("actions");
    request.onsuccess = () => {
      const db = request.result;
      const transaction = db.transaction("actions", "readwrite");
      transaction.objectStore("actions").put({ name: "Amina Wanjiru" }, "a1");
      transaction.oncomplete = () => { db.close(); resolve(); };
      transaction.onerror = () => reject(transaction.error);
    };
    request.onerror = () => reject(request.error);
  });
  const cache = await caches.open("clinicflow-pages");
  await cache.put("/queue", new Response("Amina Wanjiru, token 2"));
}"""
HELD = """async () => ({
  databases: (await indexedDB.databases()).map((db) => db.name).filter((n) => n.startsWith("clinicflow")).sort(),
  caches: (await caches.keys()).sort(),
})"""
EMPTIED = """async () => {
  const databases = (await indexedDB.databases()).filter((db) => db.name.startsWith("clinicflow"));
  const kept = (await caches.keys()).filter((n) => !n.startsWith("workbox-precache") && n !== "clinicflow-static");
  return databases.length === 0 && kept.length === 0;
}"""


def test_signing_out_removes_the_clinical_data_from_the_browser(
    phone_page: Page, live_server: LiveServer, receptionist: StaffAccount
) -> None:
    page = phone_page
    _seed_queue(live_server, receptionist)
    sign_in_patient(page, live_server, live_server.patient.phone)
    page.goto("/queue")
    expect(page.get_by_test_id("my-token")).to_have_text("2")
    _kept(page)
    page.evaluate(PLANT)
    held: dict[str, Any] = page.evaluate(HELD)
    assert held["databases"] == ["clinicflow-outbox", "clinicflow-read"]
    assert "clinicflow-pages" in held["caches"]

    page.get_by_test_id("menu-button").click()
    page.get_by_test_id("logout").click()
    page.wait_for_url("**/login")
    wait_until(page, EMPTIED)
    # The app's own static files stay: the shell still answers offline, for nobody.
    assert any(name.startswith("workbox-precache") for name in page.evaluate(HELD)["caches"])

    page.context.set_offline(True)
    page.goto("/queue")
    expect(page.get_by_test_id("offline-shell")).to_be_visible()
    expect(page.get_by_test_id("offline-shell")).to_contain_text("You are offline")
    expect(page.get_by_test_id("offline-kept")).to_have_count(0)
    expect(page.get_by_test_id("my-token")).to_have_count(0)
    page.context.set_offline(False)


KEYS = """() => new Promise((resolve, reject) => {
  const request = indexedDB.open("clinicflow-read");
  request.onsuccess = () => {
    const db = request.result;
    const keys = db.transaction("views").objectStore("views").getAllKeys();
    keys.onsuccess = () => { db.close(); resolve(keys.result); };
    keys.onerror = () => reject(keys.error);
  };
  request.onerror = () => reject(request.error);
})"""


def test_a_page_for_someone_else_empties_the_device_first(
    page: Page, live_server: LiveServer, receptionist: StaffAccount
) -> None:
    """Someone signs in on a browser whose last person never signed out (their session ran
    out): the first page for the new person removes the last one's data."""
    _seed_queue(live_server, receptionist)
    sign_in_staff(page, live_server.doctor.email, live_server.doctor.password)
    page.wait_for_url("**/home")
    page.goto("/doctor/queue")
    _kept(page)
    # A session the server no longer knows: the browser is not signed out, as far as it can tell.
    page.context.add_cookies(
        [{"name": "cf_session", "value": "ran-out", "url": live_server.base_url}]
    )
    sign_in_staff(page, receptionist.email, receptionist.password)
    page.wait_for_url("**/home")
    page.goto("/desk/queue")
    expect(page.get_by_test_id("desk-queues")).to_be_visible()
    _kept(page)
    keys: list[str] = page.evaluate(KEYS)
    assert len(keys) == 2, keys
    assert "@owner" in keys
    assert any(key.endswith("|/desk/queue") for key in keys), keys
    page.context.set_offline(True)
    page.goto("/doctor/queue")
    expect(page.get_by_test_id("offline-shell")).to_contain_text("You are offline")
    expect(page.get_by_test_id("offline-kept")).to_have_count(0)
    page.context.set_offline(False)
