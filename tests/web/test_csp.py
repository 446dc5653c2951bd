"""The Content-Security-Policy: every answer carries it, no page needs what it forbids
(inline scripts other than the hashed import map, inline handlers, style attributes), and
HSTS is sent only over https (directly, or said by a trusted proxy)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from clinicflow.config import Settings
from clinicflow.web.headers import CONTENT_SECURITY_POLICY, script_hash
from clinicflow.web.templating import TEMPLATE_DIR
from tests.queue.clinic import QueueClinic
from tests.web.tour import tour

DATA_SCRIPTS = {"application/json"}


class Inline(HTMLParser):
    """What a page has inline: scripts (type, text), handler and style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[str, str]] = []
        self.forbidden: list[str] = []
        self._script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.forbidden.append(f"<{tag} {name}>")
        if tag == "style":
            self.forbidden.append("<style>")
        if tag == "script":
            given = dict(attrs)
            if given.get("src") is None:
                self._script = given.get("type") or "text/javascript"
                self.scripts.append((self._script, ""))

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            kind, text = self.scripts[-1]
            self.scripts[-1] = (kind, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


def directive(name: str) -> list[str]:
    for part in CONTENT_SECURITY_POLICY.split(";"):
        words = part.split()
        if words and words[0] == name:
            return words[1:]
    raise AssertionError(f"no {name} in the CSP")


def test_the_policy_allows_only_the_apps_own_scripts_and_styles() -> None:
    scripts = directive("script-src")
    assert scripts[0] == "'self'"
    assert all(source.startswith("'sha256-") for source in scripts[1:])
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "'unsafe-eval'" not in CONTENT_SECURITY_POLICY
    assert directive("style-src") == ["'self'"]
    assert directive("frame-ancestors") == ["'none'"]
    assert {"ws:", "wss:"} <= set(directive("connect-src"))
    assert {"blob:", "mediastream:"} <= set(directive("media-src"))


async def test_no_page_needs_what_the_policy_forbids(app: FastAPI, clinic: QueueClinic) -> None:
    pages = await tour(app, clinic)
    allowed = set(directive("script-src")[1:])
    for page, html in pages.items():
        inline = Inline()
        inline.feed(html)
        assert inline.forbidden == [], page
        for kind, text in inline.scripts:
            if kind in DATA_SCRIPTS:
                continue
            assert kind == "importmap", (page, kind)
            assert script_hash(text) in allowed, page


def test_no_template_has_inline_handlers_or_styles() -> None:
    """The tour cannot open every page; the templates can be read."""
    handler = re.compile(r"<[^>]*\s(on[a-z]+|style)\s*=", re.I)
    for template in TEMPLATE_DIR.rglob("*.html"):
        source = template.read_text(encoding="utf-8")
        assert not handler.search(source), template
        assert "<style" not in source, template


def _routes(routes: list[Any]) -> list[Route]:
    """Every route, inside included routers too (FastAPI keeps each router whole)."""
    found: list[Route] = []
    for route in routes:
        if isinstance(route, Route):
            found.append(route)
        elif (router := getattr(route, "original_router", None)) is not None:
            found.extend(_routes(router.routes))
    return found


async def test_every_route_answers_with_the_policy(app: FastAPI, client: httpx.AsyncClient) -> None:
    paths = [
        route.path
        for route in _routes(app.routes)
        if "GET" in (route.methods or ()) and "{" not in route.path
    ]
    assert len(paths) > 30
    for path in [*paths, "/no-such-page", "/static/css/app.css"]:
        response = await client.get(path, headers={"Accept": "text/html"})
        assert response.headers.get("content-security-policy") == CONTENT_SECURITY_POLICY, path
        assert response.headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in response.headers, path


async def test_hsts_over_https_only(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://clinic.example") as https:
        answer = await https.get("/health/live")
    assert answer.headers["strict-transport-security"] == "max-age=31536000"


@pytest.mark.parametrize(("proxy", "hsts"), [("127.0.0.1", True), ("203.0.113.7", False)])
async def test_hsts_when_a_trusted_proxy_says_https(
    app: FastAPI, settings: Settings, proxy: str, hsts: bool
) -> None:
    """As `clinicflow serve` runs it: uvicorn believes X-Forwarded-Proto only from
    FORWARDED_ALLOW_IPS (the default, the local NGINX)."""
    behind = ProxyHeadersMiddleware(app, trusted_hosts=settings.forwarded_allow_ips)
    transport = httpx.ASGITransport(app=behind, client=(proxy, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://clinic.example") as client:
        answer = await client.get("/health/live", headers={"X-Forwarded-Proto": "https"})
    assert ("strict-transport-security" in answer.headers) is hsts
