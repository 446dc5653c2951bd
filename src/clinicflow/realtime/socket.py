"""The `/ws` endpoint: one socket per browser tab, speaking the protocol in DESIGN.md.

Client → server: `subscribe {topic, since?}`, `unsubscribe {topic}`, `typing {topic}`,
`send {topic, client_id, body}`, `call {topic, type, call_id, data}`, `ping`. Server →
client: events `{topic, type, seq, data}` and replies that carry `op`: `subscribed`, `sent`,
`called`, `pong`, `error`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import structlog
from fastapi import WebSocket
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from clinicflow.clinic import service as clinic
from clinicflow.core.errors import AppError
from clinicflow.deps import SESSION_COOKIE, bearer_token
from clinicflow.identity import access as identity_access
from clinicflow.identity import service as identity
from clinicflow.realtime.connections import Connection, Member
from clinicflow.realtime.hub import Hub, NotFollowing
from clinicflow.realtime.logins import LoginEnded
from clinicflow.realtime.mailbox import Mailbox, MailboxClosed
from clinicflow.realtime.topics import MAX_SEQ, NotAllowed, UnknownTopic
from clinicflow.runtime import Runtime

log = structlog.get_logger(__name__)

MAX_FRAME_CHARS = 64 * 1024
# Longest op or client id echoed back in a reply.
MAX_ECHO_CHARS = 200
IDLE_CODE = 4408
SIGN_IN_CODE = Connection.SIGN_IN_CODE
FORBIDDEN_ORIGIN_CODE = 4403
# Frames received and not yet handled; past this the reader stops taking more and the
# client's sends wait in the network.
INBOX_FRAMES = 32
# How long a close frame may wait to be sent before the connection is dropped instead.
CLOSE_SECONDS = 2.0


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
    """Run one socket: a reader takes frames off the network (and keeps the idle deadline),
    this task handles them in order, a writer sends the outbox. When any of them sees the
    socket end, the mailboxes close and every wait on them ends, so the handler returns
    even if it was in the middle of a catch-up to a client that vanished."""
    settings = runtime.settings
    hub = runtime.hub
    async with runtime.transaction(write=False) as session:
        public_url = (await clinic.current(session=session)).public_url
    allowed = [public_url.rstrip("/"), *settings.ws_allowed_origins]
    if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host"), allowed):
        await websocket.close(code=FORBIDDEN_ORIGIN_CODE, reason="origin not allowed")
        return
    login = await _authenticate(websocket, runtime)
    await websocket.accept()
    if login is None:
        await websocket.close(code=SIGN_IN_CODE, reason="sign in first")
        return
    if identity_access.must_change_password(login.user):
        # A temporary password opens the change-password page and nothing else, here as in
        # the API and the pages; the client is sent back to sign in like any other refusal.
        await websocket.close(code=SIGN_IN_CODE, reason="choose your own password first")
        return

    inbox: Mailbox[str | None] = Mailbox(INBOX_FRAMES)
    workers: list[asyncio.Task[None]] = []
    closing: list[asyncio.Task[None]] = []

    def abort(code: int) -> None:
        inbox.close()
        for worker in workers:
            worker.cancel()
        closing.append(asyncio.create_task(_close(websocket, code)))

    connection = Connection(
        member=Member(id=login.user.id, name=login.user.name, role=login.user.role),
        login_id=login.session_id,
        buffer_size=settings.ws_send_buffer,
        abort=abort,
    )
    hub.connect(connection)
    workers.append(asyncio.create_task(_write(websocket, connection)))
    workers.append(
        asyncio.create_task(_read(websocket, connection, inbox, settings.ws_idle_seconds))
    )
    try:
        while True:
            await _handle(hub, connection, await inbox.get())
    except MailboxClosed:
        pass
    finally:
        for worker in workers:
            worker.cancel()
        if closing:
            # The close frame (and its code) must go out before the endpoint returns.
            await closing[0]
        await hub.disconnect(connection)


async def _read(
    websocket: WebSocket, connection: Connection, inbox: Mailbox[str | None], idle: float
) -> None:
    """Receive frames into `inbox` until the client leaves or is silent for `idle`
    seconds. One deadline moved on each frame rather than `wait_for` around each receive
    (that made a task per frame); it is off while waiting for room in the inbox, which is
    the handler being slow, not the client silent."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(idle) as silence:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    if connection.sending_since is not None:
                        # A send is waiting for the client to read (a send that can go
                        # out never waits): the client left or the server is shutting
                        # down, and what is unsent would hold the connection open.
                        _drop(websocket)
                    break
                silence.reschedule(None)
                await inbox.put(message.get("text"))
                silence.reschedule(loop.time() + idle)
    except TimeoutError:
        connection.abort(IDLE_CODE)
    except (MailboxClosed, WebSocketDisconnect, RuntimeError):
        pass
    finally:
        inbox.close()
        connection.end()


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
    """Send the outbox in order, noting when each send began for the stall watchdog."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            frame = await connection.outbox.get()
            connection.sending_since = loop.time()
            await websocket.send_text(frame)
            connection.sending_since = None
    except MailboxClosed:
        pass
    except (WebSocketDisconnect, RuntimeError, OSError):
        connection.abort(1006)


async def _close(websocket: WebSocket, code: int) -> None:
    """Send the close frame, if the client takes it within `CLOSE_SECONDS`; a client that
    stopped reading never will, and then its connection is dropped (`_drop`)."""
    if websocket.application_state is not WebSocketState.CONNECTED:
        return
    try:
        async with asyncio.timeout(CLOSE_SECONDS):
            await websocket.close(code=code)
    except TimeoutError:
        _drop(websocket)
    except (RuntimeError, OSError):
        pass


def _drop(websocket: WebSocket) -> None:
    """Abort the TCP connection of a client that does not read.

    ASGI lets an app close a socket only by sending a close frame, which waits behind what
    the client did not read; uvicorn then keeps the connection (and its send buffer) until
    the peer reads or the network gives up, which may be never, and a shutdown waits for
    it. Uvicorn's receive callable is a method of its protocol object, which holds the
    transport: abort that. Under another server this finds nothing and does nothing.
    """
    protocol = getattr(getattr(websocket, "_receive", None), "__self__", None)
    transport = getattr(protocol, "transport", None)
    if isinstance(transport, asyncio.Transport):
        transport.abort()


def _reply(connection: Connection, **body: Any) -> None:
    connection.push(json.dumps(body, separators=(",", ":")))


def _short_text(value: object, limit: int = MAX_ECHO_CHARS) -> str | None:
    """`value` if it is a short string, else None: what a client named is echoed back (and
    logged) only then, never a structure it built to be costly to encode."""
    return value if isinstance(value, str) and len(value) <= limit else None


def _seq_or_none(value: object) -> bool:
    """Whether `value` can be a `since`: absent, or a whole number a stored `seq` can be
    (a bool is an int to Python, and 10^30 overflows the database's integer)."""
    return value is None or (type(value) is int and 0 <= value <= MAX_SEQ)


async def _handle(hub: Hub, connection: Connection, text: str | None) -> None:
    """Answer one frame. Whatever the client sent, the answer is a reply or an error
    frame and the socket stays open (a bug is logged and answered `internal`)."""
    if text is None or len(text) > MAX_FRAME_CHARS:
        _reply(connection, op="error", code="bad_frame", message="Send JSON text frames.")
        return
    try:
        request = json.loads(text)
    except (ValueError, RecursionError):
        # RecursionError: nested deeper than the parser goes (30,000 `[`, say).
        _reply(connection, op="error", code="bad_frame", message="The frame is not JSON.")
        return
    if not isinstance(request, dict):
        _reply(connection, op="error", code="bad_frame", message="Send a JSON object.")
        return
    op = _short_text(request.get("op"))
    topic = request.get("topic")
    client_id = _short_text(request.get("client_id"))
    try:
        if op == "ping":
            await hub.heartbeat(connection)
            _reply(connection, op="pong")
        elif not isinstance(topic, str):
            _reply(connection, op="error", code="bad_frame", message="Name a topic.")
        elif op == "subscribe":
            since = request.get("since")
            if not _seq_or_none(since):
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
            _reply(connection, op="sent", topic=topic, client_id=client_id, message=message)
        elif op == "call":
            answer = await hub.call(connection, topic, request)
            _reply(connection, op="called", topic=topic, client_id=client_id, **answer)
        else:
            _reply(connection, op="error", code="bad_frame", message="Unknown op.")
    except MailboxClosed:
        raise
    except LoginEnded:
        connection.abort(SIGN_IN_CODE)
    except (UnknownTopic, NotAllowed):
        # A `call` frame's client id comes back, so its sender can tell which call failed.
        echo = {"client_id": client_id} if client_id is not None else {}
        _reply(
            connection, op="error", topic=topic, code="not_found", message="No such topic.", **echo
        )
    except NotFollowing:
        _reply(
            connection, op="error", topic=topic, code="not_subscribed", message="Subscribe first."
        )
    except AppError as exc:
        error = exc.body()["error"]
        _reply(connection, op="error", topic=topic, client_id=client_id, **error)
    except (SQLAlchemyError, RedisError, OSError, TimeoutError):
        # A busy pool or a lost connection fails this one operation, not the socket: the
        # client keeps what was not acknowledged and sends it again.
        log.exception("realtime.op_failed", op=op, topic=_short_text(topic))
        _reply(
            connection,
            op="error",
            topic=_short_text(topic, MAX_FRAME_CHARS),
            client_id=client_id,
            code="unavailable",
            message="The server is busy; try again in a moment.",
        )
    except Exception:
        # A bug, not the client's doing: logged, and this one frame fails, not the socket.
        log.exception("realtime.op_crashed", op=op, topic=_short_text(topic))
        _reply(
            connection,
            op="error",
            topic=_short_text(topic, MAX_FRAME_CHARS),
            client_id=client_id,
            code="internal",
            message="Something went wrong; try again.",
        )
