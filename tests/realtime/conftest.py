"""A real uvicorn server, in the test's own event loop, for socket tests.

Serving in the same loop lets a test use the app's runtime (its database, broker and
hub) directly while clients talk to the server over a real TCP socket.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection
from websockets.typing import Origin

from clinicflow.config import Settings
from clinicflow.runtime import Runtime
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL
from tests.consultations.clinic import Clinic
from tests.factories import Accounts

RECEIVE_SECONDS = 5.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A small send buffer, so that falling behind is seen in a test's time, and a login
    checked on every frame, so that a sign-out is seen at the next one."""
    return settings.model_copy(update={"ws_send_buffer": 64, "ws_login_recheck_seconds": 0.0})


@dataclass(frozen=True)
class Server:
    port: int

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[Server]:
    """Serve `app` with uvicorn on a free loopback port until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    # Idle connections stay open longer than uvicorn's 5 s: a client reusing one just as the
    # server closes it gets a ReadError, which a busy test loop made likely (a stand-in
    # provider's retried delivery counted as a second attempt).
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", access_log=False, timeout_keep_alive=60
    )
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


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[Server]:
    async with serving(app) as running:
        yield running


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


@pytest.fixture
async def two_servers(settings: Settings, clean_db: None) -> AsyncIterator[list[Server]]:
    """Two `clinicflow serve` processes sharing the test's PostgreSQL and Redis."""
    if not (TEST_DATABASE_URL and TEST_REDIS_URL):
        pytest.skip(
            "two server processes need PostgreSQL and Redis (TEST_DATABASE_URL, TEST_REDIS_URL)"
        )
    environment = {
        **os.environ,
        "CLINICFLOW_ENV": "test",
        "CLINICFLOW_SECRET_KEY": settings.secret_key,
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "CLINICFLOW_VAR_DIR": str(settings.var_dir),
    }
    processes: list[asyncio.subprocess.Process] = []
    servers: list[Server] = []
    try:
        for _ in range(2):
            port = _free_port()
            processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    *("-m", "clinicflow", "serve", "--port", str(port)),
                    env=environment,
                    cwd=settings.var_dir,
                )
            )
            servers.append(Server(port=port))
        for server, process in zip(servers, processes, strict=True):
            await _wait_healthy(server, process)
        yield servers
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _wait_healthy(server: Server, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        for _ in range(300):
            if process.returncode is not None:
                raise RuntimeError(f"server on port {server.port} exited with {process.returncode}")
            try:
                if (await http.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"server on port {server.port} did not become healthy")


@pytest.fixture
def clinic(client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime) -> Clinic:
    return Clinic(client, accounts, runtime)
