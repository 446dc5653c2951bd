"""The HTTP edge: every body has a limit, read as a stream and refused with 413 before it
is buffered; a NUL byte in the URL is refused before any route sees it.

The streamed cases call the app as the server would, with a `receive` that hands out a
50 MB body in 64 KiB chunks and counts what the app took: the measure is bytes consumed,
not time. One case goes through a real uvicorn server over a socket, chunked, with no
Content-Length.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.types import Message

from clinicflow.config import Settings
from clinicflow.identity.schemas import Role
from tests.factories import Accounts, bearer, login
from tests.realtime.conftest import serving

pytestmark = pytest.mark.usefixtures("app")

CHUNK = 64 * 1024
HUGE = 50 * 1024 * 1024
LIMIT = 512 * 1024


class Flood:
    """An endless-looking body: `HUGE` bytes of `filler`, handed out a chunk at a time."""

    def __init__(self, prefix: bytes, filler: bytes = b"a") -> None:
        self.prefix = prefix
        self.filler = filler
        self.consumed = 0

    async def receive(self) -> Message:
        if self.consumed >= HUGE:
            return {"type": "http.request", "body": b"", "more_body": False}
        chunk = self.prefix if self.consumed == 0 else self.filler * CHUNK
        self.consumed += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}


async def call(
    app: FastAPI,
    path: str,
    flood: Flood,
    *,
    content_type: str,
    content_length: int | None = None,
    accept: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    headers = [(b"content-type", content_type.encode()), (b"accept", accept.encode())]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("203.0.113.7", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    status = 0
    body = b""

    async def send(message: Message) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    await app(scope, flood.receive, send)
    return status, json.loads(body) if body.startswith(b"{") else {}


ROUTES = [
    # The anonymous JSON sign-in of the report: the API's JSON class.
    ("/api/auth/login", "application/json", b'{"email": "a@example.com", "password": "'),
    # A page form (the CSRF check reads it before anything else does).
    ("/login", "application/x-www-form-urlencoded", b"email=a%40example.com&password="),
    # A JSON API route that needs a sign-in: the body is refused all the same.
    ("/api/consultations", "application/json", b'{"problem": "'),
]


@pytest.mark.parametrize(("path", "content_type", "prefix"), ROUTES)
async def test_a_streamed_body_past_the_limit_is_cut_off_early(
    app: FastAPI, path: str, content_type: str, prefix: bytes
) -> None:
    flood = Flood(prefix)
    status, body = await call(app, path, flood, content_type=content_type)
    assert status == 413
    assert body["error"]["code"] == "body_too_large"
    assert body["error"]["details"] == {"max_bytes": LIMIT}
    # It stopped reading one chunk past the limit, not 50 MB later.
    assert flood.consumed <= LIMIT + CHUNK


@pytest.mark.parametrize(("path", "content_type", "prefix"), ROUTES)
async def test_a_declared_length_past_the_limit_is_refused_before_reading(
    app: FastAPI, path: str, content_type: str, prefix: bytes
) -> None:
    flood = Flood(prefix)
    status, body = await call(app, path, flood, content_type=content_type, content_length=HUGE)
    assert (status, body["error"]["code"]) == (413, "body_too_large")
    assert flood.consumed == 0


async def test_a_browser_gets_the_refusal_as_a_page(app: FastAPI) -> None:
    flood = Flood(b"email=x&password=")
    status, _ = await call(
        app, "/login", flood, content_type="application/x-www-form-urlencoded", accept="text/html"
    )
    assert status == 413
    assert flood.consumed <= LIMIT + CHUNK


async def test_the_upload_route_has_its_own_larger_limit(
    app: FastAPI, client: Any, accounts: Accounts, settings: Settings
) -> None:
    """An upload passes the default limit (the route holds the file to its own) and is cut
    off past the attachment limit."""
    doctor = await accounts.make(Role.doctor)
    headers = bearer(await login(client, doctor))
    path = f"/api/consultations/{uuid.uuid4()}/attachments"
    file = b"\x89PNG\r\n\x1a\n" + b"0" * (2 * LIMIT)
    response = await client.post(path, files={"file": ("a.png", file)}, headers=headers)
    # Read in full, then the consultation is not found: the size was no reason to refuse.
    assert response.status_code == 404, response.text

    boundary = b"edge"
    prefix = (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.png"'
        b"\r\nContent-Type: image/png\r\n\r\n"
    )
    flood = Flood(prefix)
    status, _ = await call(
        app, path, flood, content_type=f"multipart/form-data; boundary={boundary.decode()}"
    )
    assert status in (401, 404, 413)  # anonymous: refused at once, or at the limit at latest
    assert flood.consumed <= settings.attachment_max_bytes + 64 * 1024 + CHUNK


async def test_a_real_server_stops_reading_a_chunked_flood(app: FastAPI) -> None:
    """Through uvicorn, chunked with no Content-Length: the 413 arrives while the client is
    still sending, long before 50 MB went out."""
    async with serving(app) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        chunk = b"a" * CHUNK
        answer = b""
        while sent < HUGE:
            try:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
            except (ConnectionError, OSError):
                break
            sent += len(chunk)
            try:
                answer = await asyncio.wait_for(reader.read(4096), timeout=0.001)
            except TimeoutError:
                continue
            if answer:
                break
        if not answer:
            answer = await asyncio.wait_for(reader.read(4096), timeout=5)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"body_too_large" in answer
    # The limit plus what the sockets' buffers took in meanwhile: far from 50 MB.
    assert sent < 16 * 1024 * 1024


@pytest.mark.parametrize(
    "url",
    [
        "/book?q=%00",
        "/desk/book?q=ab%00cd",
        "/api/doctors?q=%00",
        "/api/admin/users?q=%00",
    ],
)
async def test_a_nul_byte_in_the_url_is_refused(client: Any, url: str) -> None:
    response = await client.get(url)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(min_value=0, max_value=3 * LIMIT))
async def test_any_body_is_refused_exactly_when_it_passes_the_limit(
    app: FastAPI, size: int
) -> None:
    """Whatever the size: 413 if and only if it is past the limit, and never more than one
    chunk past the limit is read."""
    consumed = 0
    body = b'{"email": "a@example.com", "password": "' + b"a" * size + b'"}'

    async def receive() -> Message:
        nonlocal consumed
        chunk = body[consumed : consumed + CHUNK]
        consumed += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": consumed < len(body)}

    flood = Flood(b"")
    flood.receive = receive  # type: ignore[method-assign]
    status, _ = await call(app, "/api/auth/login", flood, content_type="application/json")
    assert (status == 413) == (len(body) > LIMIT)
    assert consumed <= LIMIT + CHUNK


async def test_the_refusal_speaks_the_language_and_carries_the_headers(client: Any) -> None:
    answer = await client.post(
        "/api/auth/login",
        content=b"a" * (LIMIT + 1),
        headers={"content-type": "application/json", "accept-language": "sw"},
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["message"] == "Ombi ni kubwa mno."
    assert answer.headers["x-content-type-options"] == "nosniff"
