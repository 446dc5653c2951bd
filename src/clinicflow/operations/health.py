"""`/health/live` and `/health/ready`: what a load balancer and an orchestrator ask.

Live says only that the process answers (restart it if not). Ready says whether it should
be sent traffic: the database answers, its schema is at the code's head (an upgrade whose
`clinicflow migrate` has not run yet keeps new processes out of rotation), Redis answers
when configured, and a worker beat recently. Each check is one small query or ping with a
short timeout, so a probe every few seconds costs nothing; the answer names each check,
and a 503 lists the ones that failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from clinicflow import migrate
from clinicflow.core import clock
from clinicflow.operations import heartbeat
from clinicflow.runtime import Runtime

log = structlog.get_logger(__name__)

router = APIRouter(tags=["operations"])

# A check that takes longer than this has failed: a probe must answer before its own timeout.
CHECK_TIMEOUT_SECONDS = 2.0

Check = Callable[[Runtime], Awaitable[str]]


async def _database(runtime: Runtime) -> str:
    async with runtime.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return "ok"


async def _migrations(runtime: Runtime) -> str:
    async with runtime.engine.connect() as connection:
        stamped = set(
            (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars()
        )
    return "ok" if stamped == migrate.head_revisions() else "behind"


async def _redis(runtime: Runtime) -> str:
    if runtime.redis is None:
        return "not_configured"
    await runtime.redis.ping()
    return "ok"


async def _worker(runtime: Runtime) -> str:
    async with runtime.transaction(write=False) as session:
        seen = await heartbeat.last_seen(session)
    allowed = timedelta(seconds=runtime.settings.worker_stale_seconds)
    return "ok" if seen is not None and clock.now() - seen <= allowed else "not_seen"


CHECKS: dict[str, Check] = {
    "database": _database,
    "migrations": _migrations,
    "redis": _redis,
    "worker": _worker,
}
HEALTHY = {"ok", "not_configured"}


async def _run(name: str, check: Check, runtime: Runtime) -> str:
    try:
        return await asyncio.wait_for(check(runtime), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        log.warning("health.check_failed", check=name, error=repr(exc))
        return "error"


@router.get("/health/live")
async def live() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    checks = {name: await _run(name, check, runtime) for name, check in CHECKS.items()}
    failing = [name for name, state in checks.items() if state not in HEALTHY]
    body = {"status": "error" if failing else "ok", "checks": checks, "failing": failing}
    return JSONResponse(body, status_code=503 if failing else 200)
