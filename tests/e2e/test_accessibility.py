"""axe-core over the pages the structure work touched, as each role sees them on a phone, in
Swahili: no serious or critical violation (missing labels, names, contrast, landmarks).

axe-core comes from the axe-playwright-python package, which ships the engine's script; it
runs inside Debian's Chromium against the real server, after each page has gone live.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from tests.e2e.conftest import LiveServer
from tests.e2e.people import sign_in_patient, sign_in_staff

pytestmark = pytest.mark.browser

SERIOUS = {"serious", "critical"}
axe = Axe()


def _in_swahili(page: Page) -> None:
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "sw"


def _problems(page: Page, path: str) -> list[str]:
    response = page.goto(path)
    assert response is not None, path
    assert response.ok, (path, response.status)
    page.wait_for_load_state("networkidle")
    results = axe.run(page)
    return [
        f"{path}: {violation['id']} ({violation['impact']}) on "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
    ]


def test_the_staff_pages_have_no_serious_accessibility_problem(
    phone_page: Page, live_server: LiveServer
) -> None:
    sign_in_staff(phone_page, live_server.admin.email, live_server.admin.password)
    phone_page.wait_for_url("**/home")
    _in_swahili(phone_page)
    problems = [
        problem
        for path in (
            "/home",
            "/desk/queue",
            "/desk/book",
            "/consultations",
            "/notifications",
            "/admin/users",
            "/admin/deliveries",
            "/board",
        )
        for problem in _problems(phone_page, path)
    ]
    assert problems == []


def test_the_doctors_pages_have_no_serious_accessibility_problem(
    phone_page: Page, live_server: LiveServer
) -> None:
    sign_in_staff(phone_page, live_server.doctor.email, live_server.doctor.password)
    phone_page.wait_for_url("**/home")
    _in_swahili(phone_page)
    problems = [
        problem
        for path in ("/doctor/queue", "/schedule", "/appointments", "/consultations")
        for problem in _problems(phone_page, path)
    ]
    assert problems == []


def test_the_patients_pages_have_no_serious_accessibility_problem(
    phone_page: Page, live_server: LiveServer
) -> None:
    sign_in_patient(phone_page, live_server, live_server.patient.phone)
    _in_swahili(phone_page)
    problems = [
        problem
        for path in ("/home", "/queue", "/book", "/appointments", "/consultations", "/records")
        for problem in _problems(phone_page, path)
    ]
    assert problems == []
