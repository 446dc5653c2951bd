"""The HTTP edge: what every request must pass before any route reads it.

`BodyLimitMiddleware` bounds every request body. A body is read as a stream, and the
request is refused with 413 the moment it goes past its limit, so no part of the server
(JSON parsing, a form, the multipart spool) ever buffers more than the limit. A declared
`Content-Length` above the limit is refused at once, before a byte of the body is read.
The limit is small for everything (JSON and forms); a few routes (uploads) name their
own. The same middleware refuses a NUL byte anywhere in the URL: no path or query value
ever needs one, and PostgreSQL refuses it in text, which would surface as a 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinicflow.core.errors import ErrorCode, error_body
from clinicflow.i18n import gettext as _


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a body goes past its limit.

    An `HTTPException`, because FastAPI turns any other error raised while it reads a body
    into a 400; the app's handler for this class answers in the one error shape.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(status_code=413, detail="Content Too Large")
        self.max_bytes = max_bytes


def too_large_body(max_bytes: int) -> dict[str, Any]:
    return error_body(
        ErrorCode.body_too_large,
        _("The request is too large."),
        {"max_bytes": max_bytes},
    )


def _has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        larger: Mapping[re.Pattern[str], int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})

    def limit_for(self, path: str) -> int:
        """The body limit of a path: its own (an upload route's) or the default."""
        for pattern, limit in self.larger.items():
            if pattern.fullmatch(path):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _has_nul(scope):
            body = error_body(
                ErrorCode.validation_error,
                _("The address must not contain a NUL character."),
                {"errors": [{"loc": ["query"], "message": "NUL byte", "type": "value_error"}]},
            )
            await JSONResponse(body, status_code=422)(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            # Refused before reading: a client that waits for "100 Continue" sends nothing.
            await JSONResponse(too_large_body(limit), status_code=413)(scope, receive, send)
            return
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except BodyTooLarge:
            # A reader outside the app's handlers (a middleware) let it through.
            if started:
                raise
            await JSONResponse(too_large_body(limit), status_code=413)(scope, receive, send)
