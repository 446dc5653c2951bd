"""Static files: every page names them by versioned URL, a versioned URL is cached for a
year and always carries the bytes its hash was taken from, scripts are ES modules that
reach each other only through the import map, and the service worker keeps its fixed URL."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount

from clinicflow.web.assets import (
    ASSETS,
    IMMUTABLE,
    MODULES,
    REVALIDATE,
    STATIC_DIR,
    Assets,
    VersionedStaticFiles,
)
from clinicflow.web.templating import TEMPLATE_DIR
from tests.queue.clinic import QueueClinic
from tests.web.tour import tour

SCRIPT_TYPES = {"module", "importmap", "application/json"}
STATIC_URL = re.compile(r"/static/[^\"'\s<>)]+")
VERSIONED = re.compile(r"/static/(?P<name>[^?]+)\?v=(?P<version>[0-9a-f]+)")
IMPORT = re.compile(
    r"""^\s*(?:import|export)\b[^"';]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']""",
    re.M,
)
PAGE_MODULES = sorted(path for path in (STATIC_DIR / "js").glob("*.js") if path.name != "sw.js")


class Scripts(HTMLParser):
    """Every <script> of a page: its attributes and its inline text."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self._open = dict(attrs)
            self.scripts.append((self._open, ""))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = None


def scripts_of(html: str) -> list[tuple[dict[str, str | None], str]]:
    parser = Scripts()
    parser.feed(html)
    return parser.scripts


def assert_current(url: str) -> str:
    """`url` names a static file by its current hash; the file's name."""
    match = VERSIONED.fullmatch(url)
    assert match, f"{url} carries no version"
    name = match["name"]
    assert name in ASSETS.files, f"{url} names no static file"
    assert match["version"] == ASSETS.files[name].version, f"{url} carries a stale version"
    return name


async def test_every_page_loads_modules_by_versioned_url(
    app: FastAPI, client: httpx.AsyncClient, clinic: QueueClinic
) -> None:
    pages = await tour(app, clinic)
    assert len(pages) > 25
    served: set[str] = set()
    for page, html in pages.items():
        scripts = scripts_of(html)
        assert [attrs.get("type") for attrs, _ in scripts][:2] == ["importmap", "module"], page
        for attrs, text in scripts:
            assert attrs.get("type") in SCRIPT_TYPES, (page, attrs)
            if attrs.get("type") == "module":
                assert attrs.get("src"), (page, "an inline module")
            if attrs.get("type") == "importmap":
                imports = json.loads(text)["imports"]
                assert {name: assert_current(url) for name, url in imports.items()} == MODULES
        urls = STATIC_URL.findall(html)
        assert urls, page
        served.update(assert_current(url) for url in urls)

    # Every file a page names comes back with its bytes and a year of cache life.
    for name in served:
        response = await client.get(ASSETS.url(name))
        assert response.status_code == 200, name
        assert response.headers["cache-control"] == IMMUTABLE
        assert response.content == (STATIC_DIR / name).read_bytes()


def test_templates_name_static_files_only_through_static_url() -> None:
    """The tour cannot open every page (a held slot, a verify code); the templates can be read."""
    for template in TEMPLATE_DIR.rglob("*.html"):
        source = template.read_text()
        assert "/static/" not in source, template
        for tag in re.findall(r"<script\b[^>]*>", source):
            kind = re.search(r'type="([^"]+)"', tag)
            assert kind, (template, tag)
            assert kind.group(1) in SCRIPT_TYPES, (template, tag)
            if kind.group(1) == "module":
                assert re.search(r"src=\"\{\{ static_url\('[^']+'\) \}\}\"", tag), (template, tag)


@pytest.mark.parametrize("path", PAGE_MODULES, ids=lambda path: path.name)
def test_modules_import_each_other_only_by_name(path: Path) -> None:
    """A relative or absolute import would load the file under an unversioned URL, a second
    copy beside the one the import map names (a second socket, for realtime.js)."""
    source = path.read_text()
    for specifier in [a or b for a, b in IMPORT.findall(source)]:
        assert specifier in MODULES, f"{path.name} imports {specifier!r}, not in the import map"
    assert not re.search(r"\bwindow\.\w+\s*=[^=]", source), f"{path.name} shares a global"


# Imported for its effect, never for names: a classic script the service worker also loads
# with `importScripts`, which defines its one global instead of exporting.
FOR_EFFECT = {"outbox-sync": "self.clinicflowOutbox = "}


def test_the_import_map_names_existing_modules() -> None:
    for bare, name in MODULES.items():
        assert name in ASSETS.files
        text = (STATIC_DIR / name).read_text()
        if bare in FOR_EFFECT:
            assert "export" not in text, bare
            assert FOR_EFFECT[bare] in text, bare
        else:
            assert "export" in text, bare


async def test_an_unversioned_or_stale_url_still_works_but_is_revalidated(
    client: httpx.AsyncClient,
) -> None:
    body = (STATIC_DIR / "js/realtime.js").read_bytes()
    for url in ("/static/js/realtime.js", "/static/js/realtime.js?v=000000000000"):
        response = await client.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == REVALIDATE, url
        assert response.content == body
    assert (await client.get("/static/js/nothing.js")).status_code == 404


async def test_a_revalidated_versioned_url_keeps_its_cache_life(client: httpx.AsyncClient) -> None:
    url = ASSETS.url("css/app.css")
    first = await client.get(url)
    again = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["cache-control"] == IMMUTABLE


def test_a_changed_file_changes_its_hash(tmp_path: Path) -> None:
    script = tmp_path / "js" / "page.js"
    script.parent.mkdir()
    script.write_text("export const answer = 41;\n")
    before = Assets(tmp_path)
    assert Assets(tmp_path).url("js/page.js") == before.url("js/page.js")

    script.write_text("export const answer = 42;\n")
    after = Assets(tmp_path)
    assert after.url("js/page.js") != before.url("js/page.js")
    assert re.fullmatch(r"/static/js/page\.js\?v=[0-9a-f]{12}", after.url("js/page.js"))
    with pytest.raises(LookupError):
        after.url("js/missing.js")


async def test_a_file_edited_after_start_is_not_cached_under_its_old_hash(tmp_path: Path) -> None:
    """The hashes are taken once per process; a file edited since (a developer at work) must
    not be kept for a year under the hash of its old bytes."""
    script = tmp_path / "page.js"
    script.write_text("export const answer = 41;\n")
    assets = Assets(tmp_path)
    site = Starlette(routes=[Mount("/static", VersionedStaticFiles(assets))])
    transport = httpx.ASGITransport(app=site)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        url = assets.url("page.js")
        assert (await browser.get(url)).headers["cache-control"] == IMMUTABLE

        script.write_text("export const answer = 42; // edited\n")
        edited = await browser.get(url)
        assert edited.headers["cache-control"] == REVALIDATE
        assert edited.text == script.read_text()


async def test_the_service_worker_keeps_its_fixed_url(client: httpx.AsyncClient) -> None:
    """A service worker is identified by its script URL: it stays /sw.js, is checked for
    updates on every load, and is never given a versioned URL or the import map."""
    response = await client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["service-worker-allowed"] == "/"
    assert (
        'navigator.serviceWorker.register("/sw.js")'
        in (STATIC_DIR / "js/notifications.js").read_text()
    )
    assert "sw" not in MODULES


async def test_the_favicon_is_the_versioned_icon(client: httpx.AsyncClient) -> None:
    """No 404 on a first visit: /favicon.ico leads to the icon every page links to."""
    response = await client.get("/favicon.ico")
    assert response.status_code == 301
    assert response.headers["location"] == ASSETS.url("img/icon.svg")
    icon = await client.get(response.headers["location"])
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"
    assert icon.headers["cache-control"] == IMMUTABLE
    page = await client.get("/login")
    assert f'<link rel="icon" href="{ASSETS.url("img/icon.svg")}"' in page.text


async def test_scripts_styles_and_json_are_compressed_but_pages_are_not(
    client: httpx.AsyncClient,
) -> None:
    """Phones on slow links get gzip for what is large and carries no CSRF token; a page
    (token beside reflected text: BREACH) goes as it is."""
    gzip = {"accept-encoding": "gzip"}
    style = await client.get(ASSETS.url("vendor/pico-2.1.1.min.css"), headers=gzip)
    assert style.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in style.headers["vary"].lower()
    assert style.text == (STATIC_DIR / "vendor/pico-2.1.1.min.css").read_text()
    schema = await client.get("/openapi.json", headers=gzip)
    assert schema.headers["content-encoding"] == "gzip"
    assert schema.json()["openapi"]
    page = await client.get("/login", headers=gzip)
    assert page.status_code == 200
    assert "content-encoding" not in page.headers
    plain = await client.get(
        ASSETS.url("vendor/pico-2.1.1.min.css"), headers={"accept-encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
