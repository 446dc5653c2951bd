"""The `/ws` endpoint: one socket per browser tab, speaking the protocol in DESIGN.md.

Client → server: `subscribe {topic, since?}`, `unsubscribe {topic}`, `typing {topic}`,
`send {topic, client_id, body}`, `ping`. Server → client: events `{topic, type, seq, data}`
and replies that carry `op`: `subscribed`, `sent`, `pong`, `error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

import structlog
from fastapi import WebSocket
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from clinicflow.core.errors import AppError
from clinicflow.deps import SESSION_COOKIE, bearer_token
from clinicflow.identity import service as identity
from clinicflow.realtime.connections import Connection, Member
from clinicflow.realtime.hub import Hub, NotFollowing
from clinicflow.realtime.logins import LoginEnded
from clinicflow.realtime.topics import NotAllowed, UnknownTopic
from clinicflow.runtime import Runtime

log = structlog.get_logger(__name__)

MAX_FRAME_CHARS = 64 * 1024
IDLE_CODE = 4408
SIGN_IN_CODE = Connection.SIGN_IN_CODE
FORBIDDEN_ORIGIN_CODE = 4403


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """A browser always sends Origin on a socket; a page on another site must not ride on
    our cookie. Clients without a browser send none and authenticate by bearer token."""
    if origin is None:
        return True
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:  # not an address at all, such as an unclosed IPv6 "["
        return False
    return netloc == host or origin.rstrip("/") in allowed


async def serve(websocket: WebSocket, runtime: Runtime) -> None:
    settings = runtime.settings
    hub = runtime.hub
    allowed = [settings.public_url.rstrip("/"), *settings.ws_allowed_origins]
    if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host"), allowed):
        await websocket.close(code=FORBIDDEN_ORIGIN_CODE, reason="origin not allowed")
        return
    login = await _authenticate(websocket, runtime)
    await websocket.accept()
    if login is None:
        await websocket.close(code=SIGN_IN_CODE, reason="sign in first")
        return

    writer: asyncio.Task[None] | None = None
    closing: list[asyncio.Task[None]] = []

    def abort(code: int) -> None:
        if writer is not None:
            writer.cancel()
        closing.append(asyncio.create_task(_close(websocket, code)))

    connection = Connection(
        member=Member(id=login.user.id, name=login.user.name, role=login.user.role),
        login_id=login.session_id,
        buffer_size=settings.ws_send_buffer,
        abort=abort,
    )
    hub.connect(connection)
    writer = asyncio.create_task(_write(websocket, connection))
    loop = asyncio.get_running_loop()
    try:
        # One deadline moved on each frame rather than `wait_for` around each receive: that
        # made a task per frame. It is off while a frame is handled, which may wait.
        async with asyncio.timeout(settings.ws_idle_seconds) as silence:
            while not connection.closing:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                silence.reschedule(None)
                await _handle(hub, connection, message.get("text"))
                silence.reschedule(loop.time() + settings.ws_idle_seconds)
    except TimeoutError:
        connection.abort(IDLE_CODE)
    except WebSocketDisconnect:
        pass
    finally:
        writer.cancel()
        if closing:
            # The close frame (and its code) must go out before the endpoint returns.
            await closing[0]
        await hub.disconnect(connection)


async def _authenticate(websocket: WebSocket, runtime: Runtime) -> identity.Authenticated | None:
    token = bearer_token(websocket.headers.get("authorization"))
    async with runtime.transaction(write=False) as session:
        if token:
            return await identity.authenticate_access_token(
                session=session, settings=runtime.settings, token=token
            )
        cookie = websocket.cookies.get(SESSION_COOKIE)
        if cookie:
            return await identity.authenticate_cookie(session=session, cookie=cookie)
    return None


async def _write(websocket: WebSocket, connection: Connection) -> None:
    try:
        while True:
            frame = await connection.outbox.get()
            await websocket.send_text(frame)
    except (WebSocketDisconnect, RuntimeError, OSError):
        connection.abort(1006)


async def _close(websocket: WebSocket, code: int) -> None:
    if websocket.application_state is WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close(code=code)


def _reply(connection: Connection, **body: Any) -> None:
    connection.push(json.dumps(body, separators=(",", ":")))


async def _handle(hub: Hub, connection: Connection, text: str | None) -> None:
    if text is None or len(text) > MAX_FRAME_CHARS:
        _reply(connection, op="error", code="bad_frame", message="Send JSON text frames.")
        return
    try:
        request = json.loads(text)
    except ValueError:
        _reply(connection, op="error", code="bad_frame", message="The frame is not JSON.")
        return
    if not isinstance(request, dict):
        _reply(connection, op="error", code="bad_frame", message="Send a JSON object.")
        return
    op = request.get("op")
    topic = request.get("topic")
    try:
        if op == "ping":
            await hub.heartbeat(connection)
            _reply(connection, op="pong")
        elif not isinstance(topic, str):
            _reply(connection, op="error", code="bad_frame", message="Name a topic.")
        elif op == "subscribe":
            since = request.get("since")
            if since is not None and (not isinstance(since, int) or since < 0):
                _reply(
                    connection,
                    op="error",
                    topic=topic,
                    code="bad_frame",
                    message="`since` must be a seq.",
                )
                return
            follower = await hub.subscribe(connection, topic, since)
            _reply(connection, op="subscribed", topic=topic, seq=follower.last_seq)
        elif op == "unsubscribe":
            await hub.unsubscribe(connection, topic)
            _reply(connection, op="unsubscribed", topic=topic)
        elif op == "typing":
            await hub.typing(connection, topic)
        elif op == "send":
            message = await hub.send(connection, topic, request)
            _reply(
                connection,
                op="sent",
                topic=topic,
                client_id=request.get("client_id"),
                message=message,
            )
        else:
            _reply(connection, op="error", code="bad_frame", message="Unknown op.")
    except LoginEnded:
        connection.abort(SIGN_IN_CODE)
    except (UnknownTopic, NotAllowed):
        _reply(connection, op="error", topic=topic, code="not_found", message="No such topic.")
    except NotFollowing:
        _reply(
            connection, op="error", topic=topic, code="not_subscribed", message="Subscribe first."
        )
    except AppError as exc:
        error = exc.body()["error"]
        _reply(connection, op="error", topic=topic, client_id=request.get("client_id"), **error)
    except (SQLAlchemyError, RedisError, OSError, TimeoutError):
        # A busy pool or a lost connection fails this one operation, not the socket: the
        # client keeps what was not acknowledged and sends it again.
        log.exception("realtime.op_failed", op=op, topic=topic)
        _reply(
            connection,
            op="error",
            topic=topic,
            client_id=request.get("client_id"),
            code="unavailable",
            message="The server is busy; try again in a moment.",
        )
