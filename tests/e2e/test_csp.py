"""The browser tests run under the app's Content-Security-Policy and fail on a violation:
the check itself is shown to catch one, and the API documentation's Swagger UI (started
from a file, not inline) draws under it. Every other browser test covers its own pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LiveServer, _close, _context

pytestmark = pytest.mark.browser


def test_a_blocked_inline_style_fails_the_test(browser: Browser, live_server: LiveServer) -> None:
    context = _context(browser, live_server.base_url, phone=False)
    page = context.new_page()
    page.goto("/login")
    page.evaluate("document.head.insertAdjacentHTML('beforeend', '<style>body{}</style>')")
    page.wait_for_timeout(200)
    with pytest.raises(AssertionError, match="style-src"):
        _close(context)


def test_the_api_documentation_draws_under_the_policy(page: Page) -> None:
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("clinicflow")
