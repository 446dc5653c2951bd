"""Fixtures every test shares: a clean database per test, the app, a client, a clock.

The suite runs on SQLite by default; with TEST_DATABASE_URL (and TEST_REDIS_URL) set it
runs the same tests on PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings
from redis.asyncio import Redis
from sqlalchemy import delete, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from clinicflow import db
from clinicflow.app import create_app
from clinicflow.config import Settings
from clinicflow.core import audit, clock
from clinicflow.models import metadata
from clinicflow.realtime import Event
from clinicflow.runtime import Runtime
from tests.factories import Accounts

# The suite runs the same Hypothesis examples every time, so a red run can be run again and
# CI does not turn red at random on a rare case; HYPOTHESIS_PROFILE=explore searches afresh
# (and should, now and then: that is how the rare cases are found).
hypothesis_settings.register_profile("repeatable", derandomize=True)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# Under pytest-xdist each worker process gets a database and a Redis index of its own
# (`test_gw0`, `test_gw1`…, and the given index counted down), since `clean_db` empties every
# table before each test and would pull the rows from under the other worker's test.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")


def _for_this_worker(
    database_url: str | None, redis_url: str | None
) -> tuple[str | None, str | None]:
    if not XDIST_WORKER:
        return database_url, redis_url
    number = int(XDIST_WORKER.removeprefix("gw"))
    if database_url:
        url = make_url(database_url)
        database_url = url.set(database=f"{url.database}_{XDIST_WORKER}").render_as_string(
            hide_password=False
        )
    if redis_url:
        parts = urlsplit(redis_url)
        index = int(parts.path.strip("/") or 0)
        redis_url = parts._replace(path=f"/{(index - number) % 16}").geturl()
    return database_url, redis_url


TEST_DATABASE_URL, TEST_REDIS_URL = _for_this_worker(
    os.environ.get("TEST_DATABASE_URL"), os.environ.get("TEST_REDIS_URL")
)
TEST_SECRET = "test-secret-that-is-long-enough-for-hs256"


def pytest_report_header() -> list[str]:
    return [
        f"database: {TEST_DATABASE_URL or 'sqlite (temporary file)'}",
        f"redis: {TEST_REDIS_URL or 'not used (in-memory)'}",
    ]


async def _create_database(url: str) -> None:
    """Create this worker's PostgreSQL database beside the configured one, once."""
    target = make_url(url)
    assert target.database is not None
    configured = make_url(os.environ["TEST_DATABASE_URL"])
    server = db.create_engine(
        configured.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    try:
        async with server.connect() as connection:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            )
            if not exists:
                await connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        await server.dispose()


def pytest_sessionstart(session: pytest.Session) -> None:
    # Before any test: some start server processes on TEST_DATABASE_URL directly.
    if XDIST_WORKER and TEST_DATABASE_URL:
        asyncio.run(_create_database(TEST_DATABASE_URL))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def clean_db(engine: AsyncEngine) -> None:
    """Every test starts from empty tables and a fresh audit chain."""
    async with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            await connection.execute(delete(table))
        await connection.execute(insert(audit.AuditHead).values(**audit.HEAD_ROW))
    if TEST_REDIS_URL:
        redis = Redis.from_url(TEST_REDIS_URL)
        await redis.flushdb()
        await redis.aclose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        secret_key=TEST_SECRET,
        database_url=database_url,
        redis_url=TEST_REDIS_URL,
        var_dir=tmp_path,
        # Cheap hashing keeps the suite fast; the algorithm and code path are the real ones.
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
        # Periodic jobs run where a test asks for them (tests/test_worker.py), never in the
        # background of an app a test drives through several event loops.
        embedded_worker=False,
    )


@pytest.fixture
async def app(settings: Settings, clean_db: None) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    yield application
    await application.state.runtime.close()


@pytest.fixture
def runtime(app: FastAPI) -> Runtime:
    result: Runtime = app.state.runtime
    return result


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def frozen_clock() -> Iterator[clock.FrozenClock]:
    frozen = clock.FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    clock.set_source(frozen)
    yield frozen
    clock.reset()


class Published:
    """Every event the app's hub received, for assertions on what a change announced."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._arrived = asyncio.Condition()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._arrived:
            self._arrived.notify_all()

    def of_type(self, kind: str) -> list[Event]:
        return [event for event in self.events if event.type == kind]

    async def wait_for(self, predicate: Callable[[Event], bool], wait: float = 5.0) -> Event:
        """The first event that matches; published events travel through Redis when it is
        used, so they may arrive a moment after the commit."""
        async with asyncio.timeout(wait), self._arrived:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                await self._arrived.wait()


@pytest.fixture
async def events(runtime: Runtime) -> Published:
    published = Published()
    runtime.hub.tap(published)
    await runtime.broker.start()
    return published


@pytest.fixture
def accounts(runtime: Runtime) -> Accounts:
    return Accounts(runtime)


@pytest.fixture
async def session(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """A session for reading state in assertions: every statement commits on its own, so it
    always sees the latest data and never holds a lock the code under test would wait for."""
    autocommit = runtime.engine.execution_options(isolation_level="AUTOCOMMIT")
    async with AsyncSession(bind=autocommit, expire_on_commit=False) as read_session:
        yield read_session
