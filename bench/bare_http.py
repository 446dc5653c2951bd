"""The bare twins the benchmarks measure clinicflow against, served as `clinicflow serve`
serves the app (uvicorn, proxy headers on, no WebSocket deflate):

    python bench/bare_http.py raw|fastapi PORT
    python bench/bare_http.py commit PORT DATABASE_URL

`commit` is the bookings' twin: every POST stores one row and commits it before answering,
on the same database kind and with the same durability the app has (SQLite in WAL with
`synchronous=NORMAL`, as `clinicflow.db` tunes it; PostgreSQL with its default synchronous
commit), so it is the fastest a server can answer a durable write here.
"""

from __future__ import annotations

import sqlite3
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from fastapi import FastAPI

BODY = b'{"id":"00000000-0000-0000-0000-000000000000","role":"admin","name":"Bench"}'
CREATED = b'{"id":"00000000-0000-0000-0000-000000000000","status":"booked"}'
TABLE = "CREATE TABLE IF NOT EXISTS bare_booking (id TEXT PRIMARY KEY, body TEXT NOT NULL)"


async def raw(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A fixed JSON answer: the fastest this server and this load generator can go."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


plain = FastAPI()


@plain.get("/")
async def answer() -> dict[str, str]:
    return {"id": "00000000-0000-0000-0000-000000000000", "role": "admin", "name": "Bench"}


def commit_app(database_url: str) -> Callable[..., Awaitable[None]]:
    """A raw ASGI app that inserts the request's body as one row and commits, per request."""
    store: Callable[[bytes], Awaitable[None]]
    started: Callable[[], Awaitable[None]] | None = None
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(TABLE)

        async def store(body: bytes) -> None:
            # One writer, one statement, its own commit: nothing for a lock to queue behind.
            connection.execute(
                "INSERT INTO bare_booking VALUES (?, ?)", (str(uuid.uuid4()), body.decode())
            )

    else:
        import asyncpg

        dsn = database_url.replace("postgresql+asyncpg", "postgresql")
        pool: Any = None

        async def started() -> None:
            nonlocal pool
            pool = await asyncpg.create_pool(dsn, min_size=20, max_size=20)
            await pool.execute(TABLE)

        async def store(body: bytes) -> None:
            await pool.execute(
                "INSERT INTO bare_booking VALUES ($1, $2)", str(uuid.uuid4()), body.decode()
            )

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                if started is not None:
                    await started()
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status = 200
        if scope["method"] == "POST":
            await store(body)
            status = 201
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": CREATED})

    return app


if __name__ == "__main__":
    kind = sys.argv[1]
    app: Any = {"raw": raw, "fastapi": plain}.get(kind)
    if kind == "commit":
        app = commit_app(sys.argv[3])
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[2]),
        proxy_headers=True,
        ws_per_message_deflate=False,
    )
