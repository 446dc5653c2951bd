"""Copies of rarely changing rows a process keeps between requests, and when they are dropped.

Nearly every request reads the clinic's settings and the caller's login. On SQLite each
read is a trip to a connection's thread, and under load those trips were most of a read's
time (docs/performance.md). A `Held` keeps what was read, for at most `seconds`, and is
dropped at once when this process writes one of its tables:

- when a flush in any session of this process touches one of the tables (an ORM object
  added, changed or deleted, or an UPDATE/DELETE/INSERT statement run through a session),
  and again when that session commits, so that a read which began before the commit and
  stored the old rows after the first drop is not kept;
- a copy read while a drop happened is not stored (the `generation` check).

Another process's write (a second server, the command line) is seen once the copy is
older than `seconds`: that bound is the price, and each user of `Held` says why it is
acceptable where it is used.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.dml import UpdateBase

Value = TypeVar("Value")
_TOUCHED_KEY = "clinicflow.core.held.touched"


class Held(Generic[Value]):
    """Values by key, each kept for at most `seconds`, all dropped when `tables` change."""

    def __init__(self, tables: Iterable[str], *, seconds: float, size: int = 10_000) -> None:
        self.tables = frozenset(tables)
        self.seconds = seconds
        self.size = size
        self.generation = 0
        self._values: dict[Hashable, tuple[Value, float]] = {}
        self._loading: dict[Hashable, asyncio.Future[Value | None]] = {}

    def get(self, key: Hashable) -> Value | None:
        found = self._values.get(key)
        if found is None:
            return None
        value, stored_at = found
        if time.monotonic() - stored_at >= self.seconds:
            del self._values[key]
            return None
        return value

    def put(self, key: Hashable, value: Value, generation: int) -> None:
        """Keep `value`, read since `generation` was current, unless a drop came between."""
        if generation != self.generation:
            return
        if len(self._values) >= self.size:
            self._values.clear()
        self._values[key] = (value, time.monotonic())

    def drop(self) -> None:
        self.generation += 1
        self._values.clear()

    async def read(
        self, key: Hashable, load: Callable[[], Awaitable[Value | None]]
    ) -> Value | None:
        """The held value, else what `load` reads (kept unless it is None).

        Misses for one key at the same moment share one `load`: when a copy ran out under
        64 clients, each of them read the row again at once, and that burst, once a
        second, was the slowest percent of all answers (docs/performance.md). A waiter
        whose loader was cancelled (its client went away) loads for itself.
        """
        found = self.get(key)
        if found is not None:
            return found
        pending = self._loading.get(key)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this waiter itself was cancelled
        future: asyncio.Future[Value | None] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        generation = self.generation
        try:
            value = await load()
        except BaseException:
            future.cancel()
            raise
        finally:
            if self._loading.get(key) is future:
                del self._loading[key]
        if value is not None:
            self.put(key, value, generation)
        future.set_result(value)
        return value


def held_in(session: Session) -> list[Held[Any]]:
    """The copies the runtime put into this session's `info` (each domain under its own
    key; `info` is shared, not copied, between a sessionmaker's sessions, so the session's
    writes reach the process's copies)."""
    return [value for value in session.info.values() if isinstance(value, Held)]


def _touch(session: Session, tables: set[str]) -> None:
    for copies in held_in(session):
        if copies.tables & tables:
            copies.drop()
            session.info.setdefault(_TOUCHED_KEY, set()).add(id(copies))


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    if not held_in(session):
        return
    changed = (*session.new, *session.dirty, *session.deleted)
    tables = {getattr(getattr(obj, "__table__", None), "name", "") for obj in changed}
    if tables:
        _touch(session, tables)


@event.listens_for(Session, "do_orm_execute")
def _statement(state: ORMExecuteState) -> None:
    statement = state.statement
    if not isinstance(statement, UpdateBase) or not held_in(state.session):
        return
    table = getattr(statement, "table", None)
    name = getattr(table, "name", None)
    if name:
        _touch(state.session, {name})


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    touched: set[int] = session.info.pop(_TOUCHED_KEY, set())
    for copies in held_in(session):
        if id(copies) in touched:
            copies.drop()
