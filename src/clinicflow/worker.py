"""The periodic job runner: work that no request triggers (a waitlist offer running out).

Each job runs every `interval_seconds`, each run in its own `runtime.transaction()`, so a
run commits or rolls back as a whole like a request. A run that raises is logged and the
loop goes on: one bad row must not stop every later job. The runner runs inside the web
process by default (`embedded_worker`), so `make run` needs nothing more; a deployment of
several processes may turn that off and run `clinicflow worker` instead, or keep both: the
jobs are written to tolerate running twice at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.analytics import jobs as analytics_jobs
from clinicflow.assistant import jobs as assistant_jobs
from clinicflow.core import errortracking
from clinicflow.notifications import jobs as notification_jobs
from clinicflow.operations import heartbeat
from clinicflow.queue import jobs as queue_jobs
from clinicflow.realtime import jobs as realtime_jobs
from clinicflow.runtime import Runtime
from clinicflow.scheduling import jobs as scheduling_jobs

log = structlog.get_logger(__name__)

# A job is given the runtime (for its settings) and the session of its run's transaction.
JobFunction = Callable[[Runtime, AsyncSession], Awaitable[None]]
STOP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Job:
    name: str
    interval_seconds: float
    run: JobFunction


async def _beat(_runtime: Runtime, session: AsyncSession) -> None:
    await heartbeat.beat(session)


JOBS: tuple[Job, ...] = (
    # First, so `/health/ready` sees a worker as soon as one starts.
    Job("operations.heartbeat", heartbeat.BEAT_SECONDS, _beat),
    Job(
        "scheduling.pass_on_lapsed_offers",
        scheduling_jobs.WAITLIST_SWEEP_SECONDS,
        scheduling_jobs.pass_on_lapsed_offers,
    ),
    Job("queue.expire_skipped", queue_jobs.SWEEP_SECONDS, queue_jobs.expire_skipped),
    Job("queue.mark_doctors_away", queue_jobs.SWEEP_SECONDS, queue_jobs.mark_doctors_away),
    Job(
        "scheduling.send_reminders",
        scheduling_jobs.REMINDER_SWEEP_SECONDS,
        scheduling_jobs.send_reminders,
    ),
    Job(
        "assistant.forget_closed_memory",
        assistant_jobs.FORGET_SECONDS,
        assistant_jobs.forget_closed_memory,
    ),
    Job("realtime.prune_user_events", realtime_jobs.PRUNE_SECONDS, realtime_jobs.prune_user_events),
    Job("analytics.roll_up", analytics_jobs.ROLL_UP_SECONDS, analytics_jobs.roll_up),
    Job(
        "analytics.weekly_report",
        analytics_jobs.WEEKLY_REPORT_SECONDS,
        analytics_jobs.send_weekly_report,
    ),
)

# Long-running loops beside the periodic jobs: each opens its own transactions (the
# dispatcher must not hold one while a provider answers) and returns when `stop` is set.
Loop = Callable[[Runtime, asyncio.Event], Coroutine[Any, Any, None]]
LOOPS: tuple[Loop, ...] = (notification_jobs.dispatch_forever,)


async def run_once(runtime: Runtime, job: Job) -> bool:
    """Run one job in its own transaction; False (and a log line) if it failed."""
    started = time.perf_counter()
    try:
        async with runtime.transaction() as session:
            await job.run(runtime, session)
    except Exception as exc:
        log.exception("worker.job_failed", job=job.name)
        errortracking.report(exc)
        runtime.metrics.job_failures.labels(job.name).inc()
        return False
    finally:
        runtime.metrics.job_duration.labels(job.name).observe(time.perf_counter() - started)
    return True


async def run_forever(
    runtime: Runtime,
    stop: asyncio.Event,
    jobs: Sequence[Job] = JOBS,
    loops: Sequence[Loop] = LOOPS,
) -> None:
    """Run each job when it is due until `stop` is set; every job runs once at the start,
    so work that fell due while no worker ran is done straight away. The `loops` run
    alongside for as long."""
    background = [asyncio.create_task(run(runtime, stop)) for run in loops]
    try:
        await _run_jobs(runtime, stop, jobs)
    finally:
        stop.set()
        await asyncio.gather(*background, return_exceptions=True)


async def _run_jobs(runtime: Runtime, stop: asyncio.Event, jobs: Sequence[Job]) -> None:
    loop = asyncio.get_running_loop()
    due = {job.name: loop.time() for job in jobs}
    log.info("worker.started", jobs=[job.name for job in jobs])
    while not stop.is_set():
        for job in jobs:
            if stop.is_set():
                break
            if due[job.name] <= loop.time():
                await run_once(runtime, job)
                due[job.name] = loop.time() + job.interval_seconds
        wait = max(0.0, min(due.values(), default=loop.time() + 3600) - loop.time())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
    log.info("worker.stopped")


@contextlib.asynccontextmanager
async def embedded(runtime: Runtime) -> AsyncIterator[None]:
    """Run the jobs in the background of this process while the block runs, if the
    settings ask for it (`embedded_worker`); wait for the run in progress on the way out."""
    if not runtime.settings.embedded_worker:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(run_forever(runtime, stop), name="clinicflow-worker")
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            log.warning("worker.stop_timed_out")
