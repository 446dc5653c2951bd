"""A real uvicorn server, in the test's own event loop, for socket tests.

Serving in the same loop lets a test use the app's runtime (its database, broker and
hub) directly while clients talk to the server over a real TCP socket.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
import websockets
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection
from websockets.typing import Origin

from clinicflow.config import Settings

RECEIVE_SECONDS = 5.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Short socket timers, so that idle and overflow rules are seen in a test's time."""
    return settings.model_copy(update={"ws_idle_seconds": 1.0, "ws_send_buffer": 64})


@dataclass(frozen=True)
class Server:
    port: int

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[Server]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    uvicorn_server = uvicorn.Server(config)
    task = asyncio.create_task(uvicorn_server.serve(sockets=[sock]))
    while not uvicorn_server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield Server(port=sock.getsockname()[1])
    finally:
        uvicorn_server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


class Socket:
    """A test client of `/ws` that keeps events and replies apart."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, **body: Any) -> None:
        await self.connection.send(json.dumps(body))

    async def receive(self, wait: float = RECEIVE_SECONDS) -> dict[str, Any]:
        frame = await asyncio.wait_for(self.connection.recv(), wait)
        value: dict[str, Any] = json.loads(frame)
        return value

    async def until(self, predicate: Any, wait: float = RECEIVE_SECONDS) -> dict[str, Any]:
        """The first frame that matches, skipping others (pongs, presence, typing)."""
        async with asyncio.timeout(wait):
            while True:
                frame = await self.receive(wait)
                if predicate(frame):
                    return frame

    async def subscribe(self, topic: str, since: int | None = None) -> list[dict[str, Any]]:
        """Subscribe and return the catch-up events that came before the confirmation."""
        await self.send(op="subscribe", topic=topic, since=since)
        events: list[dict[str, Any]] = []
        while True:
            frame = await self.receive()
            if frame.get("op") == "subscribed" and frame["topic"] == topic:
                return events
            if frame.get("op") == "error":
                raise AssertionError(frame)
            if frame.get("topic") == topic and "type" in frame:
                events.append(frame)

    async def close(self) -> None:
        await self.connection.close()

    async def drain(self) -> None:
        """Read until the server closes the socket."""
        while True:
            await self.receive()


async def connect(
    server: Server, headers: dict[str, str] | None = None, origin: str | None = None
) -> Socket:
    connection = await websockets.connect(
        server.ws_url,
        additional_headers=headers or {},
        origin=Origin(origin) if origin else None,
        open_timeout=5,
        max_queue=None,
    )
    return Socket(connection)
