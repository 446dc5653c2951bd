"""Errors to Sentry (`SENTRY_DSN`), with clinical text and secrets scrubbed before sending.

What leaves the process is decided here, not trusted to Sentry's defaults: no local
variables (a frame's locals hold notes and messages), no request body, cookies or query
string, only a few harmless request headers, and every dict key that names clinical text
or a secret filtered, wherever it appears. Strings are scanned for tokens (JWTs, bearer
values, long random strings) as well, since an exception's message can quote one.
"""

from __future__ import annotations

import re
from typing import Any

import sentry_sdk

from clinicflow.config import Settings

FILTERED = "[Filtered]"
# Keys whose values are clinical text, a person's words, or a secret.
SENSITIVE_KEYS = frozenset(
    {
        "allergies",
        "answer",
        "authorization",
        "body",
        "code",
        "content",
        "cookie",
        "csrf_token",
        "diagnosis",
        "instructions",
        "medications",
        "message",
        "note",
        "notes",
        "otp",
        "password",
        "problem",
        "question",
        "reason",
        "refresh_token",
        "access_token",
        "secret",
        "set-cookie",
        "summary",
        "text",
        "token",
        "transcript",
    }
)
SAFE_HEADERS = frozenset({"user-agent", "content-type", "accept", "accept-language", "host"})
TOKENS = re.compile(
    r"eyJ[\w-]+\.[\w-]+\.[\w-]*"  # a JWT
    r"|(?i:bearer)\s+\S+"  # an Authorization value
    r"|\b[A-Za-z0-9_\-]{32,}\b"  # a long random string (session, CSRF, API key)
)


def scrub(value: Any) -> Any:
    """A copy of `value` with sensitive keys filtered and tokens masked in every string."""
    if isinstance(value, dict):
        return {
            key: FILTERED if str(key).lower() in SENSITIVE_KEYS else scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return TOKENS.sub(FILTERED, value)
    return value


def before_send(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    request = event.get("request")
    if isinstance(request, dict):
        headers = request.get("headers") or {}
        event["request"] = {
            "method": request.get("method"),
            "url": str(request.get("url", "")).split("?", 1)[0],
            "headers": {k: v for k, v in headers.items() if k.lower() in SAFE_HEADERS},
        }
    event.pop("user", None)
    scrubbed: dict[str, Any] = scrub(event)
    return scrubbed


def configure(settings: Settings, *, component: str) -> None:
    """Start reporting to Sentry when a DSN is set; nothing leaves the process otherwise."""
    if not settings.sentry_dsn:
        return
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.env.value,
        server_name=component,
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=0.0,
        before_send=before_send,  # type: ignore[arg-type]
        before_breadcrumb=lambda crumb, _hint: scrub(crumb),
    )


def report(exc: BaseException) -> None:
    """Send an error the app answered itself (a 500); a no-op without a DSN."""
    sentry_sdk.capture_exception(exc)
