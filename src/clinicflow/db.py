"""Engine, sessions, the declarative base and the one transaction boundary.

SQLite and PostgreSQL must enforce the same rules, so the SQLite connection is tuned to
behave like a server database: WAL so readers never block the writer, foreign keys on, a
busy timeout instead of instant "database is locked", and `BEGIN IMMEDIATE` for writers so
that two transactions never both read and then fail to upgrade to a write lock. A server
copies the WAL back into the database in the background (`checkpoints`), so the writer's
commit does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

import structlog
from sqlalchemy import DateTime, Enum, MetaData, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, SessionTransaction, mapped_column
from sqlalchemy.types import TypeDecorator

from clinicflow.core import clock, sqlite_driver

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

log = structlog.get_logger(__name__)

AfterCommit = Callable[[], Awaitable[None]]
WRITE_OPTION = "clinicflow_write"
_AFTER_COMMIT_KEY = "clinicflow.after_commit"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite has no timezone type; storing naive UTC there and re-attaching UTC on the way
    out means code never compares an aware and a naive datetime.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused; use clinicflow.core.clock.now()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def string_enum(cls: type[StrEnum]) -> Enum:
    """An enum stored as a plain string with a CHECK, so adding a value is a small migration
    on SQLite and PostgreSQL alike rather than an ALTER TYPE."""
    return Enum(cls, native_enum=False, length=20, create_constraint=True, validate_strings=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so "begin" below decides it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A writer takes the write lock up front: a deferred transaction that read first
        # could not upgrade once another writer had committed. Readers never lock (WAL).
        # Only transactions opened as writers (see `transaction`) are treated as such.
        options = connection.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION) else "BEGIN")


CHECKPOINT_SECONDS = 1.0


@asynccontextmanager
async def checkpoints(
    engine: AsyncEngine, interval: float = CHECKPOINT_SECONDS
) -> AsyncIterator[None]:
    """While the block runs, copy the SQLite WAL back into the database every `interval`
    seconds on a connection of its own (nothing for other databases).

    Otherwise SQLite does it inside the commit that takes the WAL past 1,000 pages: about
    every 15 s under a steady chat load, that commit took a few hundred milliseconds (the
    copy and its fsyncs) while every sender waited for it. A passive checkpoint never
    holds the writer up, and once it has caught up the next writer starts the WAL over,
    so it stays a second's worth of pages long and the commit-time checkpoint never fires.
    """
    if engine.dialect.name != "sqlite":
        yield
        return

    async def run() -> None:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            while True:
                await asyncio.sleep(interval)
                try:
                    await autocommit.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
                except Exception:
                    log.warning("db.checkpoint_failed", exc_info=True)

    task = asyncio.create_task(run(), name="clinicflow-sqlite-checkpoints")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    # A SQLite file cannot drop a connection, so pinging it on every checkout would only add
    # a round trip; a server's connection can go stale and is checked first.
    pre_ping = not database_url.startswith("sqlite")
    if database_url.startswith("sqlite+aiosqlite"):
        kwargs.setdefault("module", sqlite_driver.dbapi())
    engine = create_async_engine(database_url, pool_pre_ping=pre_ping, **kwargs)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def create_sessionmaker(
    engine: AsyncEngine, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True, info=info)


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the session's transaction has committed, never if it rolls back.

    Side effects that leave the database (a message sent, an event published) must not
    happen for a change that was never stored. A callback queued inside a savepoint that
    rolls back is dropped with it; the rest of the transaction's callbacks stay.
    """
    queue_in_scope(session, _AFTER_COMMIT_KEY, callback)


def queue_in_scope(session: AsyncSession, key: str, item: object) -> None:
    """Append `item` to the session's list `key`, remembering the transaction or savepoint
    it was queued in, so `drop_rolled_back` can take it away with that scope."""
    sync = session.sync_session
    scope = sync.get_nested_transaction() or sync.get_transaction()
    session.info.setdefault(key, []).append((scope, item))


def _within(scope: SessionTransaction | None, rolled_back: SessionTransaction) -> bool:
    while scope is not None:
        if scope is rolled_back:
            return True
        scope = scope.parent
    return False


def drop_rolled_back(session: Session, key: str, rolled_back: SessionTransaction) -> None:
    """Take out of the list `key` what was queued inside `rolled_back` or a savepoint of it."""
    queued = session.info.get(key)
    if not queued:
        return
    kept = [entry for entry in queued if not _within(entry[0], rolled_back)]
    if kept:
        session.info[key] = kept
    else:
        session.info.pop(key, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_commit(session: Session, previous_transaction: SessionTransaction) -> None:
    """A rolled-back change must not announce itself, even if the session later commits:
    drop what was queued inside the transaction or savepoint that rolled back."""
    drop_rolled_back(session, _AFTER_COMMIT_KEY, previous_transaction)


class KeepChanges(Exception):
    """Mixed into an error whose transaction must still commit.

    A refused login must still store its audit row and its failure count, or an attacker
    could guess forever; the error travels to the client only after the commit.
    """


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    write: bool = True,
    write_lock: asyncio.Lock | None = None,
) -> AsyncIterator[AsyncSession]:
    """The one unit of work: commit on success, roll back on error, then run after-commit hooks.

    `write_lock` queues this process's SQLite writers in order; without it they would
    contend inside SQLite, whose busy handler sleeps and retries instead of queueing.
    """
    async with AsyncExitStack() as stack:
        if write and write_lock is not None:
            await stack.enter_async_context(write_lock)
        session = await stack.enter_async_context(sessionmaker())
        if write:
            # A writer begins at once (BEGIN IMMEDIATE on SQLite, under `write_lock`). A
            # reader begins with its first statement, so a read answered from what the
            # process holds (the clinic, a cached page part) never takes a connection.
            await session.connection(execution_options={WRITE_OPTION: True})
        try:
            yield session
        except KeepChanges:
            await _commit(session)
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await _commit(session)


async def _commit(session: AsyncSession) -> None:
    if session.in_transaction():
        # A read answered from what the process holds never began one: nothing to end.
        await session.commit()
    queued: list[tuple[SessionTransaction | None, AfterCommit]] = session.info.pop(
        _AFTER_COMMIT_KEY, []
    )
    for _scope, callback in queued:
        # The change is stored; a failing side effect must neither undo the answer nor
        # stop the side effects queued after it.
        try:
            await callback()
        except Exception:
            log.exception("after_commit.failed", callback=getattr(callback, "__qualname__", "?"))
