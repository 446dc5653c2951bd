"""End-to-end fixtures: a real uvicorn server on a fresh database, driven by Debian's Chromium.

Each test gets its own server, database file and browser context, so rate limits, the
development outbox and cookies never leak from one test into the next. Only the browser
process itself is shared across the session, because starting Chromium is the slow part.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from clinicflow.app import create_app
from clinicflow.config import Settings
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.migrate import upgrade
from clinicflow.runtime import build_runtime

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
# The same patience for an `expect` as for an action (Playwright's own default is 5 s): on a
# CI machine with both cores busy, an upload stored, encrypted and fanned out to the other
# browser once took longer than that, and the test failed on a message that did arrive.
WAIT_MS = 10_000
expect.set_options(timeout=WAIT_MS)
SERVER_START_SECONDS = 15.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests after every other test of the session.

    Between two sync calls Playwright marks its own event loop as the running loop of the
    main thread, for as long as the session-scoped browser lives. pytest-asyncio cannot
    start a test's loop while another one looks running, so an async test scheduled after
    the first browser test would fail. Moving the browser tests last (keeping each group's
    order) avoids that whatever paths pytest is given.
    """
    others = [item for item in items if item.get_closest_marker("browser") is None]
    browser_tests = [item for item in items if item.get_closest_marker("browser") is not None]
    items[:] = others + browser_tests


@dataclass(frozen=True)
class StaffAccount:
    name: str
    role: Role
    email: str
    password: str


@dataclass(frozen=True)
class PatientAccount:
    name: str
    phone: str


ADMIN = StaffAccount("Grace Admin", Role.admin, "admin@e2e.example.com", "admin-password-1")
DOCTOR = StaffAccount("Dr. Amani Otieno", Role.doctor, "amani@e2e.example.com", "doctor-password-1")
PATIENT = PatientAccount("Amina Wanjiru", phone="+254711000001")


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    settings: Settings
    admin: StaffAccount
    doctor: StaffAccount
    patient: PatientAccount

    def url(self, path: str) -> str:
        return self.base_url + path


async def _seed(settings: Settings) -> None:
    runtime = build_runtime(settings)
    try:
        async with runtime.transaction() as session:
            for staff in (ADMIN, DOCTOR):
                await identity.create_user(
                    session=session,
                    actor=None,
                    role=staff.role,
                    name=staff.name,
                    email=staff.email,
                    password=staff.password,
                )
            await identity.create_user(
                session=session,
                actor=None,
                role=Role.patient,
                name=PATIENT.name,
                phone=PATIENT.phone,
            )
    finally:
        await runtime.close()


def _in_own_thread(work: Callable[[], None]) -> None:
    """Run blocking setup that calls asyncio.run() away from this thread.

    Playwright's sync API keeps an event loop running in the test thread once the browser
    has started, and asyncio.run() (used by the migrations and the seeding) refuses to
    start inside a running loop.
    """
    errors: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="e2e-setup")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def _free_socket() -> socket.socket:
    """A listening socket on a free port, handed to uvicorn so no other process can take it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _wait_until_healthy(port: int, thread: threading.Thread) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the e2e server thread died while starting; see the log above")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException) as exc:
            last_error = exc
        finally:
            connection.close()
        time.sleep(0.05)
    raise RuntimeError(f"the e2e server did not answer /health in time: {last_error!r}")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
    settings = Settings(env="development", database_url=database_url, var_dir=tmp_path)

    def prepare() -> None:
        upgrade(database_url)
        asyncio.run(_seed(settings))

    _in_own_thread(prepare)
    app = create_app(settings)

    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="e2e-uvicorn", daemon=True
    )
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(port, thread)
        yield LiveServer(
            base_url=base_url, settings=settings, admin=ADMIN, doctor=DOCTOR, patient=PATIENT
        )
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        assert not thread.is_alive(), "the e2e server did not shut down"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; the browser tests need it. "
            "Install it with: sudo apt-get install -y chromium chromium-driver "
            "(do not run `playwright install`).",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


# Every page reports what the Content-Security-Policy blocked to the console, where the
# context below collects it; a test whose pages broke a rule fails when its context closes.
VIOLATIONS: dict[BrowserContext, list[str]] = {}
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile}:${event.lineNumber}`);
});
"""


def _context(browser: Browser, base_url: str, *, phone: bool) -> BrowserContext:
    # locale en-US: the language the app picks while no switch has been used.
    if phone:
        context = browser.new_context(
            base_url=base_url,
            locale="en-US",
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            device_scale_factor=2,
        )
    else:
        context = browser.new_context(base_url=base_url, locale="en-US", viewport=DESKTOP)
    context.set_default_timeout(WAIT_MS)
    violations: list[str] = []
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    context.on(
        "console",
        lambda message: (
            violations.append(f"{message.page and message.page.url}: {message.text}")
            if message.type == "error" and "CSP violation" in message.text
            else None
        ),
    )
    VIOLATIONS[context] = violations
    return context


def _final_problems(context: BrowserContext) -> list[str]:
    """axe-core's serious and critical findings on each page of the context as the test
    left it, so every browser test checks at least the last state of each of its pages."""
    from tests.e2e.people import serious_problems  # people imports this module

    problems: list[str] = []
    for page in context.pages:
        if page.is_closed() or not page.url.startswith("http"):
            continue
        # Swagger UI's own markup (vendored, for developers, off in production) has contrast
        # and nested-control findings we do not patch; every clinic page is checked.
        if urlsplit(page.url).path.startswith("/docs"):
            continue
        try:
            page.wait_for_load_state("load", timeout=5_000)
            if page.evaluate("document.contentType") != "text/html":
                continue
            found = serious_problems(page)
            if found:
                # A page still fading in or swapping a part (htmx) reads as low contrast for
                # a moment: check again once its transitions have finished.
                page.evaluate("Promise.all(document.getAnimations().map((a) => a.finished))")
                page.wait_for_timeout(500)
                found = serious_problems(page)
            problems += [f"{page.url}: {problem}" for problem in found]
        except PlaywrightError:  # the page went away or is mid-navigation: nothing to check
            continue
    return problems


def _close(context: BrowserContext) -> None:
    """Close the context; fail the test if the CSP blocked anything on its pages, or if
    axe-core finds a serious problem on a page as the test left it."""
    problems = _final_problems(context)
    context.close()
    violations = VIOLATIONS.pop(context, [])
    assert violations == [], "the Content-Security-Policy blocked:\n" + "\n".join(violations)
    assert problems == [], "axe-core found, as the test left its pages:\n" + "\n".join(problems)


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A desktop-sized page in a fresh context, pointed at this test's server."""
    context = _context(browser, live_server.base_url, phone=False)
    try:
        yield context.new_page()
    finally:
        _close(context)


@pytest.fixture
def phone_page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A phone-sized page (390x844, touch) in a fresh context, pointed at this test's server."""
    context = _context(browser, live_server.base_url, phone=True)
    try:
        yield context.new_page()
    finally:
        _close(context)


@contextmanager
def _people(browser: Browser, base_url: str, *phones: bool) -> Iterator[list[Page]]:
    """A page per person, each in a context of its own (own cookies, own socket)."""
    contexts = [_context(browser, base_url, phone=phone) for phone in phones]
    try:
        yield [context.new_page() for context in contexts]
    finally:
        for context in contexts:
            _close(context)


@pytest.fixture
def two_people(browser: Browser, live_server: LiveServer) -> Iterator[tuple[Page, Page]]:
    """The patient on a phone, the doctor at a desk."""
    with _people(browser, live_server.base_url, True, False) as (patient, doctor):
        yield patient, doctor


@pytest.fixture
def three_people(browser: Browser, live_server: LiveServer) -> Iterator[tuple[Page, Page, Page]]:
    """The receptionist at a desk, the patient on a phone, the doctor at a desk."""
    with _people(browser, live_server.base_url, False, True, False) as (desk, patient, doctor):
        yield desk, patient, doctor


RECEPTIONIST = StaffAccount(
    "Rehema Desk", Role.receptionist, "desk@e2e.example.com", "desk-password-1"
)


@pytest.fixture
def receptionist(live_server: LiveServer) -> StaffAccount:
    async def seed() -> None:
        runtime = build_runtime(live_server.settings)
        try:
            async with runtime.transaction() as session:
                await identity.create_user(
                    session=session,
                    actor=None,
                    role=RECEPTIONIST.role,
                    name=RECEPTIONIST.name,
                    email=RECEPTIONIST.email,
                    password=RECEPTIONIST.password,
                )
        finally:
            await runtime.close()

    _in_own_thread(lambda: asyncio.run(seed()))
    return RECEPTIONIST


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Page, str], Path]:
    """Save a full-page screenshot of the page into the test's tmp_path."""

    def take(page: Page, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
