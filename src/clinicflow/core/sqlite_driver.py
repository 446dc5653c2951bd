"""aiosqlite, with each statement taking one trip to its connection's thread instead of four.

aiosqlite runs every call on a thread of its own per connection. SQLAlchemy's adapter makes
four such calls per statement (open a cursor, execute, fetch the rows, close), and each is a
hand-off between the event loop's thread and the connection's: a queue put, a wake-up, the
GIL passed over and back. Profiling `GET /api/me` under load (py-spy, docs/performance.md)
put most of the request's time in those hand-offs, not in SQLite.

Here a cursor does the four in one call on the connection's thread: it executes, reads
every row, notes the description, row count and last row id, and closes the SQLite cursor,
then answers the adapter's later calls from what it kept. SQLAlchemy fetches every row of a
statement at once on this driver anyway (its server-side cursor, used by `stream`, reads
from the same buffer), so nothing is read earlier or held longer than before.

It is handed to SQLAlchemy as the dialect's DBAPI module (`module=` of `create_engine`),
so the URL's connection arguments apply as they always did.
"""

from __future__ import annotations

import sqlite3
import types
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

Row = tuple[Any, ...]
Description = tuple[tuple[Any, ...], ...] | None


def _run(
    connection: sqlite3.Connection, sql: str, parameters: Any, many: bool
) -> tuple[list[Row], Description, int, int | None]:
    """On the connection's thread: the whole statement, rows and all."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        elif parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return rows, cursor.description, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor:
    """The part of aiosqlite's cursor SQLAlchemy uses, one thread trip per statement."""

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self._rows: list[Row] = []
        self.description: Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    async def _statement(self, sql: str, parameters: Any, many: bool) -> OneTripCursor:
        (
            self._rows,
            self.description,
            self.rowcount,
            self.lastrowid,
        ) = await self._connection.in_thread(_run, sql, parameters, many)
        return self

    async def execute(self, sql: str, parameters: Any = None) -> OneTripCursor:
        return await self._statement(sql, parameters, many=False)

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> OneTripCursor:
        return await self._statement(sql, parameters, many=True)

    async def fetchall(self) -> list[Row]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> Sequence[Row]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def fetchone(self) -> Row | None:
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        self._rows = []


class OneTripConnection(aiosqlite.Connection):
    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        """Opening a cursor needs no trip: the statement's trip opens the SQLite one."""
        return OneTripCursor(self)

    async def in_thread(self, function: Any, *args: Any) -> Any:
        """`function(sqlite3_connection, *args)` on the connection's thread."""
        return await self._execute(function, self._conn, *args)  # type: ignore[no-untyped-call]


def _connect(database: str | bytes, *, iter_chunk_size: int = 64, **kwargs: Any) -> Any:
    location = database.decode() if isinstance(database, bytes) else str(database)
    return OneTripConnection(lambda: sqlite3.connect(location, **kwargs), iter_chunk_size)


def dbapi() -> AsyncAdapt_aiosqlite_dbapi:
    """The module SQLAlchemy's aiosqlite dialect is given: aiosqlite, connecting as above."""
    module = types.ModuleType("clinicflow_aiosqlite")
    module.__dict__.update(vars(aiosqlite))
    module.__dict__.update(connect=_connect, Connection=OneTripConnection)
    return AsyncAdapt_aiosqlite_dbapi(module, sqlite3)
