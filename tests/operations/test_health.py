"""`/health/live` and `/health/ready`: ready only when the database answers at the schema's
head, Redis answers (when configured) and a worker beat recently; a 503 names what failed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, text

from clinicflow import migrate, worker
from clinicflow.app import create_app
from clinicflow.config import Settings
from clinicflow.core.clock import FrozenClock
from clinicflow.operations import heartbeat
from clinicflow.runtime import Runtime

pytestmark = pytest.mark.usefixtures("app")


async def _stamp(runtime: Runtime, revisions: list[str]) -> None:
    async with runtime.engine.begin() as connection:
        await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await connection.execute(
            text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        )
        for revision in revisions:
            await connection.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:r)"), {"r": revision}
            )


@pytest.fixture
async def stamped(runtime: Runtime) -> AsyncIterator[None]:
    """The test database is built from the models; stamp it at head like a migrated one."""
    await _stamp(runtime, sorted(migrate.head_revisions()))
    yield
    async with runtime.engine.begin() as connection:
        await connection.execute(text("DROP TABLE alembic_version"))


async def _beat(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        await heartbeat.beat(session)


async def test_live_answers_without_touching_anything(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.usefixtures("stamped")
async def test_ready_when_every_check_passes(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    await _beat(runtime)
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": "ok",
            "migrations": "ok",
            "redis": "ok" if settings.redis_url else "not_configured",
            "worker": "ok",
        },
        "failing": [],
    }


@pytest.mark.usefixtures("stamped")
async def test_not_ready_when_migrations_are_behind(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _beat(runtime)
    await _stamp(runtime, ["0018"])
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "behind"
    assert response.json()["failing"] == ["migrations"]


async def test_not_ready_on_a_database_never_migrated(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _beat(runtime)
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["failing"] == ["migrations"]


@pytest.mark.usefixtures("stamped")
async def test_not_ready_when_redis_is_down(runtime: Runtime, settings: Settings) -> None:
    await _beat(runtime)
    # A closed port: nothing listens on 1.
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    app = create_app(broken)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/health/ready")
    finally:
        await app.state.runtime.close()
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "error"
    assert response.json()["failing"] == ["redis"]


@pytest.mark.usefixtures("stamped")
async def test_not_ready_until_a_worker_beats_and_again_when_it_stops(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, frozen_clock: FrozenClock
) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["failing"] == ["worker"]

    job = next(job for job in worker.JOBS if job.name == "operations.heartbeat")
    assert await worker.run_once(runtime, job)
    assert (await client.get("/health/ready")).status_code == 200

    frozen_clock.advance(seconds=settings.worker_stale_seconds + 1)
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == "not_seen"


async def test_the_old_health_check_is_unchanged(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "redis"}


async def test_heartbeat_rows_of_gone_workers_are_forgotten(
    runtime: Runtime, frozen_clock: FrozenClock
) -> None:
    async with runtime.transaction() as session:
        await heartbeat.beat(session, name="gone:1")
    frozen_clock.advance(seconds=(heartbeat.FORGET_AFTER + timedelta(minutes=1)).total_seconds())
    async with runtime.transaction() as session:
        await heartbeat.beat(session, name="here:2")
    async with runtime.transaction(write=False) as session:
        names = set((await session.execute(select(heartbeat.WorkerHeartbeat.name))).scalars())
        assert names == {"here:2"}
        assert await heartbeat.last_seen(session) == frozen_clock.current
