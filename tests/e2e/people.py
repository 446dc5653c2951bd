"""Signing people in through the real pages, and checks every browser test shares."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.identity.models import User
from clinicflow.runtime import build_runtime
from tests.e2e.conftest import WAIT_MS, LiveServer, _in_own_thread

CODE = re.compile(r"\b(\d{6})\b")
# Where to keep a copy of the screenshots for people to look at (CLINICFLOW_SHOTS); unset, they
# stay in the test's own temporary directory.
SHOTS = os.environ.get("CLINICFLOW_SHOTS")
Screenshot = Callable[[Page, str], Path]


def in_server_db(
    live_server: LiveServer, work: Callable[[AsyncSession, Any], Awaitable[Any]]
) -> Any:
    """Service calls against the live server's database, in a runtime of our own."""
    answer: list[Any] = []

    async def go() -> None:
        runtime = build_runtime(live_server.settings)
        try:
            async with runtime.transaction() as session:
                answer.append(await work(session, runtime.settings))
        finally:
            await runtime.close()

    _in_own_thread(lambda: asyncio.run(go()))
    return answer[0]


async def user_where(session: AsyncSession, **where: str) -> User:
    found = await session.scalar(select(User).filter_by(**where))
    assert found is not None, where
    return found


def keep_shot(screenshot: Screenshot, page: Page, name: str) -> None:
    taken = screenshot(page, name)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(taken, Path(SHOTS) / f"{name}.png")


# axe-core as the npm registry ships it (`npm pack axe-core@4.12.1`, its `axe.min.js`, with
# its LICENSE beside it): the browser tests inject this file, so the engine's version is the
# one written here, not whatever a Python wrapper bundles (docs/testing.md).
AXE_CORE = Path(__file__).parent / "vendor" / "axe-core-4.12.1.min.js"
_axe_source: list[str] = []


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now. The engine goes in through the
    DevTools protocol (`evaluate`), which the app's CSP does not govern."""
    if not _axe_source:
        _axe_source.append(AXE_CORE.read_text(encoding="utf-8"))
    page.evaluate(_axe_source[0])
    violations: list[dict[str, Any]] = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then((results) => results.violations)"
    )
    return violations


def serious_problems(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    return [
        f"{violation['id']} ({violation['impact']})"
        for violation in axe_violations(page)
        if violation["impact"] in {"serious", "critical"}
    ]


def wait_until(page: Page, expression: str, *, timeout_ms: int = WAIT_MS) -> None:
    """Evaluate `expression` in the page until it is truthy.

    Playwright's `wait_for_function` polls through `eval` in the page once its first try is
    false, and the app's CSP (no 'unsafe-eval') refuses that: the test then failed, under
    load, on a check that would have passed a moment later. `evaluate` is not subject to it.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_ms} ms: {expression}")
        page.wait_for_timeout(100)


def newest_code(page: Page, live_server: LiveServer, phone: str) -> str:
    """The code in the newest SMS the development outbox holds for this phone."""
    deadline = time.monotonic() + 5
    while True:
        response = page.request.get(live_server.url("/dev/outbox.json"))
        assert response.ok, response.status
        # Notifications go to the outbox too; the sign-in code is the newest text with one.
        messages = [
            m
            for m in response.json()
            if m["to"] == phone and m["channel"] == "sms" and CODE.search(m["body"])
        ]
        if messages:
            newest = max(messages, key=lambda m: m["sent_at"])
            match = CODE.search(newest["body"])
            assert match
            return match.group(1)
        assert time.monotonic() < deadline, f"no SMS for {phone} in the outbox"
        time.sleep(0.1)


def sign_in_staff(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    form = page.locator("form[action='/login']")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(password)
    form.locator("button[type=submit]").click()


def sign_in_patient(page: Page, live_server: LiveServer, phone: str, name: str = "") -> None:
    page.goto("/login/phone")
    page.locator("form[action='/login/phone'] input[name=phone]").fill(phone)
    page.locator("form[action='/login/phone'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/login/phone/verify\?phone="))
    form = page.locator("form[action='/login/phone/verify']")
    form.locator("input[name=code]").fill(newest_code(page, live_server, phone))
    if name:
        form.locator("input[name=name]").fill(name)
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/home")


def follow_menu_link(page: Page, href: str) -> None:
    """Follow a header link as a person does: on a phone, open the menu first."""
    menu = page.get_by_test_id("menu-button")
    if menu.is_visible():
        menu.click()
    page.locator(f"header a[href='{href}']").click()


def say_yes(page: Page) -> None:
    """Answer "Yes" to the question the page asks before what cannot be undone."""
    page.get_by_test_id("confirm-yes").click()


def path_of(page: Page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url)


def no_horizontal_scroll(page: Page) -> None:
    scroll_width, inner_width = page.evaluate(
        "[document.scrollingElement.scrollWidth, window.innerWidth]"
    )
    assert scroll_width <= inner_width, (
        f"{path_of(page)} scrolls sideways: content is {scroll_width}px wide, "
        f"the viewport {inner_width}px"
    )


def register_walk_in(
    desk: Page, doctor_name: str, name: str, phone: str, severity: str = "routine"
) -> None:
    form = desk.locator("[data-testid=walk-in-form]")
    doctors = form.locator("select[name=doctor_id]")
    value = doctors.locator("option", has_text=doctor_name).get_attribute("value")
    assert value
    doctors.select_option(value=value)
    form.locator("input[name=phone]").fill(phone)
    form.locator("input[name=name]").fill(name)
    form.locator(f"input[name=severity][value={severity}]").check()
    form.locator("[data-testid=walk-in-submit]").click()


def in_consultation(patient: Page, doctor: Page, live_server: LiveServer, problem: str) -> None:
    """Both signed in, the patient's consultation started and accepted, both pages on it."""
    sign_in_staff(doctor, live_server.doctor.email, live_server.doctor.password)
    doctor.wait_for_url("**/home")
    sign_in_patient(patient, live_server, live_server.patient.phone)
    patient.goto("/consultations")
    form = patient.locator("[data-testid=start-form]")
    form.locator("textarea[name=problem]").fill(problem)
    form.locator("[data-testid=start]").click()
    patient.wait_for_url("**/consultations/*")
    doctor.goto(patient.url.replace(live_server.base_url, ""))
    doctor.locator("[data-testid=accept]").click()
    expect(patient.locator("[data-testid=composer]")).to_be_visible()
    expect(doctor.locator("[data-testid=connection]")).to_have_attribute("data-state", "connected")
