"""The installable app: the web app manifest, the service worker and the offline shell.

The service worker (`static/js/sw.js`, served from the root so its scope is the whole
site) is built on Workbox, vendored under `static/vendor/workbox-7.4.1/` and loaded from
there, never a CDN. Each version of the app gives it a different first line (the list of
static files to keep, each under its content-hashed URL), so a browser sees a new worker
whenever any static file changed, installs it, and the page says a new version is ready.

Pages themselves are never cached: one person's clinical page must never be shown to the
next person of a shared browser. Without a network a navigation gets the offline shell
(`/offline`), which is drawn for nobody (no user, no names) and is the same for everyone.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clinicflow.deps import OptionalPageUser
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import Role
from clinicflow.routing import TransactionalRoute
from clinicflow.web.assets import ASSETS, STATIC_DIR
from clinicflow.web.templating import render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)
worker = APIRouter(include_in_schema=False)

THEME_COLOUR = "#0172ad"
OFFLINE_PATH = "/offline"
# Kept at install: every page's styles, scripts and pictures. The API documentation's
# bundle and Workbox itself (the worker's own scripts, kept by the browser) are left out.
KEPT_FOLDERS = ("css/", "js/", "img/", "vendor/")
LEFT_OUT = ("js/sw.js", "vendor/swagger-ui", "vendor/workbox")
# Where the installed app opens, by role: the page each person needs first.
START = {
    Role.patient: "/queue",
    Role.doctor: "/doctor/queue",
    Role.receptionist: "/desk/queue",
    Role.admin: "/home",
}


def precache_list() -> list[dict[str, str | None]]:
    """The static files kept at install, by versioned URL (the URL is the revision), and
    the offline shell, whose revision is the digest of them all."""
    kept: list[dict[str, str | None]] = [
        {"url": ASSETS.url(name), "revision": None}
        for name in ASSETS.files
        if name.startswith(KEPT_FOLDERS) and not name.startswith(LEFT_OUT)
    ]
    digest = hashlib.sha256(json.dumps(kept).encode()).hexdigest()[:12]
    return [*kept, {"url": OFFLINE_PATH, "revision": digest}]


@worker.get("/sw.js")
async def service_worker_script() -> Response:
    """Served from the root so that the worker's scope is the whole site, and checked on
    every load (`no-cache`) so a new version is found at once."""
    config = {
        "precache": precache_list(),
        "offline": OFFLINE_PATH,
        # The outbox's send, shared with the page, for Background Sync.
        "outbox": ASSETS.url("js/outbox-sync.js"),
    }
    script = (STATIC_DIR / "js" / "sw.js").read_text()
    return Response(
        f"self.__CLINICFLOW = {json.dumps(config)};\n{script}",
        media_type="application/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@worker.get(OFFLINE_PATH)
async def offline_shell(request: Request) -> Response:
    """The page a navigation without network gets: drawn for nobody, so it can be kept."""
    response = render(request, "offline.html")
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/manifest.webmanifest")
async def manifest(user: OptionalPageUser) -> Response:
    """The web app manifest; the installed app opens on the signed-in person's first page."""
    body: dict[str, Any] = {
        "id": "/",
        "name": "clinicflow",
        "short_name": "clinicflow",
        "description": _("Book a doctor, wait in the queue from your phone, see your records."),
        "start_url": START.get(user.role, "/home") if user else "/home",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOUR,
        "icons": [
            {"src": ASSETS.url("img/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": ASSETS.url("img/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": ASSETS.url("img/icon-maskable-192.png"),
                "sizes": "192x192",
                "type": "image/png",
                "purpose": "maskable",
            },
            {
                "src": ASSETS.url("img/icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
            {"src": ASSETS.url("img/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return Response(
        json.dumps(body),
        media_type="application/manifest+json",
        # Per person (the start page), so never shared by a cache.
        headers={"Cache-Control": "private, no-cache", "Vary": "Cookie"},
    )
