"""Notification delivery: how many deliveries a second does the dispatcher send?

Queues 10,000 notifications with an in-app and an SMS copy each (through the service, as
the product writes them), then measures how fast the SMS copies go out to a local stand-in
of Twilio's Messages API on 127.0.0.1 (`bench/sms_standin.py`, a process of its own, pinned
to the second core while this one, the in-process dispatcher, is pinned to the first):

    .venv/bin/python bench/notifications.py [--database-url URL] [--skip-postgres]
                                            [--skip-sqlite] [--notifications 10000]

0. The bare twin, first: a bare httpx client in this process posting the same form to the
   stand-in, as many at a time as the dispatcher sends (`notification_concurrency`), with
   no database. It is the ceiling of the stand-in and of the HTTP client together: no
   dispatcher figure above it can be shown, and every figure is printed as a ratio to it;
1. SQLite (a temporary file): the in-process dispatcher, as `clinicflow serve` runs it;
2. PostgreSQL: one `clinicflow worker` process, then two side by side (the same deliveries
   made due again), and the ratio of the two.

Each figure comes with the CPU time per delivery of whatever sends (this process, or the
worker processes, from /proc), and the stand-in's count of requests and of idempotency
tokens it saw twice: nothing may be sent twice.

Without --database-url the PostgreSQL runs use a throwaway database on
postgresql+asyncpg://postgres@127.0.0.1:5432, dropped afterwards, and are skipped with a
note when nothing answers there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import structlog
from sqlalchemy import func, select, update

import clinicflow.models  # noqa: F401 - every table, so foreign keys resolve
import harness
from booking import DEFAULT_POSTGRES, create_database, drop_database
from clinicflow.config import Settings
from clinicflow.core import clock
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.notifications import channels
from clinicflow.notifications import service as notifications
from clinicflow.notifications.jobs import Dispatcher
from clinicflow.notifications.models import Delivery
from clinicflow.notifications.schemas import Channel, DeliveryStatus, Kind
from clinicflow.runtime import Runtime, build_runtime
from reads import cores, cpu_seconds, pinned, wait_until_up

ACCOUNT_SID = "ACbench0000000000000000000000000"
AUTH_TOKEN = "bench-token"
PATIENTS = 100
PER_TRANSACTION = 500
SECRET = "bench-secret-" + "x" * 32
STAND_IN = Path(__file__).with_name("sms_standin.py")


class StandIn:
    """The stand-in process (`bench/sms_standin.py`), pinned to its own core where there is
    one, and what it counted."""

    def __init__(self, url: str) -> None:
        self.url = url

    def counts(self) -> tuple[int, int]:
        """(requests, idempotency tokens sent more than once) since the last reset."""
        answer = httpx.get(self.url + "/count").json()
        return int(answer["requests"]), int(answer["twice"])

    def reset(self) -> None:
        httpx.post(self.url + "/reset")


@contextlib.contextmanager
def stand_in(core: int | None) -> Iterator[StandIn]:
    port = harness.free_port()
    command = [*pinned(core), sys.executable, str(STAND_IN), str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + "/count")
        yield StandIn(url)
    finally:
        process.terminate()
        process.wait(timeout=10)


def twilio_env(url: str) -> dict[str, str]:
    return {
        "TWILIO_BASE_URL": url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": "+15005550006",
        "NOTIFICATION_POLL_SECONDS": "0.2",
    }


def settings_for(database_url: str, var_dir: str, twilio_url: str) -> Settings:
    return Settings(
        env="development",
        database_url=database_url,
        var_dir=Path(var_dir),
        secret_key=SECRET,
        embedded_worker=False,
        twilio_base_url=twilio_url,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from="+15005550006",
        **harness.LOAD_BUDGETS,
    )


async def queue_notifications(runtime: Runtime, count: int) -> float:
    """Write `count` notifications through the service; answers the seconds it took."""
    async with runtime.transaction() as session:
        people = [
            await identity.create_user(
                session=session,
                actor=None,
                role=Role.patient,
                name=f"Bench Patient {n}",
                phone=f"+2547{n:08d}",
            )
            for n in range(PATIENTS)
        ]
    began = time.perf_counter()
    for start in range(0, count, PER_TRANSACTION):
        async with runtime.transaction() as session:
            for n in range(start, min(count, start + PER_TRANSACTION)):
                await notifications.notify(
                    session,
                    user_id=people[n % PATIENTS].id,
                    kind=Kind.queue_top3,
                    values={"token": str(n), "position": "3", "doctor": "Dr Bench"},
                )
    return time.perf_counter() - began


async def sms_counts(runtime: Runtime) -> tuple[int, int]:
    """(sent, total) SMS deliveries."""
    async with runtime.transaction(write=False) as session:
        rows = await session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.channel == Channel.sms)
            .group_by(Delivery.status)
        )
        counts = {status: n for status, n in rows.all()}
    return counts.get(DeliveryStatus.sent, 0), sum(counts.values())


async def make_due_again(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.channel == Channel.sms)
            .values(
                status=DeliveryStatus.pending,
                attempts=0,
                next_attempt_at=clock.now(),
                provider_id=None,
                sent_at=None,
            )
        )


@contextlib.contextmanager
def on_core(core: int | None) -> Iterator[None]:
    """This process (the bare client, the in-process dispatcher) on one core while the
    block runs, the stand-in being on the other; worker processes started later are not
    pinned (they would inherit it)."""
    if core is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def report(label: str, sent: int, seconds: float, cpu: float, bare: float | None) -> None:
    ratio = f"{sent / seconds / bare:6.2f}× bare" if bare else " " * 13
    print(
        f"  {label:<34} {sent / seconds:8.0f} deliveries/s  {ratio}  "
        f"{cpu / max(sent, 1) * 1e6:6.0f} µs CPU each  ({sent} in {seconds:.1f} s)"
    )


def check_once(stand_in: StandIn, sent: int) -> None:
    requests, twice = stand_in.counts()
    print(f"  {'':<34} the stand-in saw {requests} requests for {sent} sent, {twice} sent twice")


async def bare_twin(stand_in: StandIn, count: int, concurrency: int) -> float:
    """The ceiling: a bare httpx client in this process posting the same form to the
    stand-in as the SMS adapter, `concurrency` at a time, with no database. Answers the rate."""
    url = f"{stand_in.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    left = iter(range(count))
    async with httpx.AsyncClient() as client:

        async def post_until_done() -> None:
            for n in left:
                response = await client.post(
                    url,
                    data={"To": f"+2547{n:08d}", "From": "+15005550006", "Body": "Bench " * 20},
                    auth=(ACCOUNT_SID, AUTH_TOKEN),
                    headers={"I-Twilio-Idempotency-Token": f"bare-{n}"},
                )
                response.raise_for_status()

        cpu, began = cpu_seconds(os.getpid()), time.perf_counter()
        await asyncio.gather(*(post_until_done() for _ in range(concurrency)))
        seconds, cpu = time.perf_counter() - began, cpu_seconds(os.getpid()) - cpu
    report("bare: httpx client → stand-in", count, seconds, cpu, None)
    return count / seconds


async def in_process(runtime: Runtime, stand_in: StandIn, bare: float) -> None:
    client = httpx.AsyncClient()
    adapters = channels.build(
        runtime.settings, outbox=None, client=client, resolver=runtime.resolver
    )
    dispatcher = Dispatcher(runtime, adapters)
    cpu, began = cpu_seconds(os.getpid()), time.perf_counter()
    try:
        while await dispatcher.run_once():
            pass
    finally:
        await dispatcher.close()
        await client.aclose()
    seconds, cpu = time.perf_counter() - began, cpu_seconds(os.getpid()) - cpu
    sent, _total = await sms_counts(runtime)
    report("in-process dispatcher", sent, seconds, cpu, bare)
    check_once(stand_in, sent)


async def with_workers(
    runtime: Runtime, env: dict[str, str], workers: int, stand_in: StandIn, bare: float
) -> float:
    """Start `workers` `clinicflow worker` processes; time from the first delivery sent to
    the last, so process start-up is not counted. Answers the rate."""
    processes = [
        await asyncio.create_subprocess_exec(
            *harness.CLI, "worker", env=env, stderr=asyncio.subprocess.DEVNULL
        )
        for _ in range(workers)
    ]
    try:
        sent, total = await sms_counts(runtime)
        while sent == 0:
            await asyncio.sleep(0.05)
            sent, total = await sms_counts(runtime)
        began, first = time.perf_counter(), sent
        cpu = sum(cpu_seconds(process.pid) for process in processes)
        while sent < total:
            await asyncio.sleep(0.05)
            sent, total = await sms_counts(runtime)
        seconds = time.perf_counter() - began
        cpu = sum(cpu_seconds(process.pid) for process in processes) - cpu
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            await asyncio.wait_for(process.wait(), timeout=15)
    label = f"{workers} worker process{'es' if workers > 1 else ''}"
    report(label, total - first, seconds, cpu, bare)
    check_once(stand_in, total)
    return (total - first) / seconds


def run_backend(database_url: str, count: int, stand_in: StandIn, bare: float) -> None:
    backend = database_url.split(":", 1)[0]
    print(f"\nbackend {backend}, {count} notifications (in-app + SMS each)")
    with tempfile.TemporaryDirectory() as var_dir:
        env = {
            **harness.environment(database_url, var_dir),
            "CLINICFLOW_SECRET_KEY": SECRET,
            **twilio_env(stand_in.url),
        }
        harness.migrate(env)

        async def run() -> None:
            runtime = build_runtime(settings_for(database_url, var_dir, stand_in.url))
            try:
                seconds = await queue_notifications(runtime, count)
                print(
                    f"  {'queued through the service':<34} {count / seconds:8.0f} notifications/s"
                )
                if backend.startswith("sqlite"):
                    stand_in.reset()
                    with on_core(cores()[0]):
                        await in_process(runtime, stand_in, bare)
                    return
                rates = []
                for workers in (1, 2):
                    stand_in.reset()
                    if workers > 1:
                        await make_due_again(runtime)
                    rates.append(await with_workers(runtime, env, workers, stand_in, bare))
                print(f"  {'2 workers ÷ 1 worker':<34} {rates[1] / rates[0]:8.2f}×")
            finally:
                await runtime.close()

        asyncio.run(run())


def quiet_logging() -> None:
    """Log as production does (JSON lines), to /dev/null: the dispatcher's line per
    delivery is part of its cost, a terminal drawing 10,000 of them is not."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(file=open(os.devnull, "w")),  # noqa: SIM115
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL to use as is")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--notifications", type=int, default=10_000)
    args = parser.parse_args()
    quiet_logging()
    here, there = cores()
    with stand_in(there) as standin:
        concurrency = Settings(env="development", secret_key=SECRET).notification_concurrency
        with on_core(here):
            bare = asyncio.run(bare_twin(standin, args.notifications, concurrency))
        if not args.skip_sqlite:
            with tempfile.TemporaryDirectory() as scratch:
                sqlite = f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
                run_backend(sqlite, args.notifications, standin, bare)
        if args.database_url:
            run_backend(args.database_url, args.notifications, standin, bare)
        elif not args.skip_postgres:
            name = asyncio.run(create_database(DEFAULT_POSTGRES))
            if name is None:
                return
            try:
                run_backend(f"{DEFAULT_POSTGRES}/{name}", args.notifications, standin, bare)
            finally:
                asyncio.run(drop_database(DEFAULT_POSTGRES, name))


if __name__ == "__main__":
    main()
