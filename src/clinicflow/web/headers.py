"""The security headers every answer carries, the Content-Security-Policy first.

The policy lets a page run only scripts served by the app: no inline script, no `eval`, no
inline event handler, no style attribute. The one inline script, the import map, is the
same text for the life of the process (it names the fingerprinted modules), so its SHA-256
is in `script-src` rather than a per-request nonce, which would make every page differ
and need a template change per render. JSON data blocks (`<script type="application/json">`)
are data, not scripts: the CSP does not govern them. Sockets (`ws:`/`wss:`) and a call's
media (`blob:`, `mediastream:`) are allowed for the realtime client and video calls.

HSTS is sent only on an https answer: the scheme uvicorn saw, or the `X-Forwarded-Proto`
of a proxy listed in `FORWARDED_ALLOW_IPS` (uvicorn applies it before the app runs), so
a laptop on plain http is never told to insist on https it does not have.
"""

from __future__ import annotations

import base64
import hashlib

from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinicflow.web.assets import ASSETS

# The import map exactly as base.html writes it; the hash below is of these characters.
IMPORT_MAP_JSON: Markup = htmlsafe_json_dumps(ASSETS.import_map())


def script_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        f"script-src 'self' {script_hash(str(IMPORT_MAP_JSON))}",
        "style-src 'self'",
        # Pico draws its form icons as data: SVGs; a drawn QR code or chart may be a blob.
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self' ws: wss:",
        "media-src 'self' blob: mediastream:",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# A year, the preload lists' minimum; subdomains are the operator's to decide, so left out.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"

SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
HSTS_HEADER = (b"strict-transport-security", STRICT_TRANSPORT_SECURITY.encode())


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [*SECURITY_HEADERS]
        if scope.get("scheme") == "https":
            headers.append(HSTS_HEADER)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, with_headers)
