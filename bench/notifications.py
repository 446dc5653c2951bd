"""Notification delivery: how many deliveries a second does the dispatcher send?

Queues 10,000 notifications with an in-app and an SMS copy each (through the service, as
the product writes them), then measures how fast the SMS copies go out to a local stand-in
of Twilio's Messages API on 127.0.0.1:

    .venv/bin/python bench/notifications.py [--database-url URL] [--skip-postgres]
                                            [--notifications 10000]

1. SQLite (a temporary file): the in-process dispatcher, as `clinicflow serve` runs it;
2. PostgreSQL: one `clinicflow worker` process, then two side by side (the same deliveries
   made due again), each delivery sent once (the stand-in counts every request).

Without --database-url the PostgreSQL runs use a throwaway database on
postgresql+asyncpg://postgres@127.0.0.1:5432, dropped afterwards, and are skipped with a
note when nothing answers there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import func, select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

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

ACCOUNT_SID = "ACbench0000000000000000000000000"
AUTH_TOKEN = "bench-token"
PATIENTS = 100
PER_TRANSACTION = 500
SECRET = "bench-secret-" + "x" * 32


class TwilioCounter:
    """The stand-in: answers Twilio's Messages API and counts requests per idempotency
    token, so a delivery sent twice shows."""

    def __init__(self) -> None:
        self.requests = 0
        self.tokens: dict[str, int] = {}
        self.lock = threading.Lock()

    async def create(self, request: Request) -> JSONResponse:
        await request.form()
        token = request.headers.get("i-twilio-idempotency-token", "")
        with self.lock:
            self.requests += 1
            self.tokens[token] = self.tokens.get(token, 0) + 1
            sid = f"SM{self.requests:032d}"
        return JSONResponse({"sid": sid, "status": "queued"}, status_code=201)

    def reset(self) -> None:
        with self.lock:
            self.requests = 0
            self.tokens.clear()


@contextlib.contextmanager
def stand_in(counter: TwilioCounter) -> Iterator[str]:
    app = Starlette(
        routes=[Route("/2010-04-01/Accounts/{sid}/Messages.json", counter.create, methods=["POST"])]
    )
    port = harness.free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


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


def report(label: str, sent: int, seconds: float, counter: TwilioCounter) -> None:
    twice = sum(1 for n in counter.tokens.values() if n > 1)
    print(
        f"  {label:<34} {sent / seconds:8.0f} deliveries/s  "
        f"({sent} in {seconds:.1f} s; {counter.requests} requests, {twice} sent twice)"
    )


async def in_process(runtime: Runtime, counter: TwilioCounter) -> None:
    client = httpx.AsyncClient()
    dispatcher = Dispatcher(runtime, channels.build(runtime.settings, outbox=None, client=client))
    began = time.perf_counter()
    try:
        while await dispatcher.run_once():
            pass
    finally:
        await dispatcher.close()
        await client.aclose()
    sent, _total = await sms_counts(runtime)
    report("in-process dispatcher", sent, time.perf_counter() - began, counter)


async def with_workers(
    runtime: Runtime, env: dict[str, str], workers: int, counter: TwilioCounter
) -> None:
    """Start `workers` `clinicflow worker` processes; time from the first delivery sent to
    the last, so process start-up is not counted."""
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
        while sent < total:
            await asyncio.sleep(0.05)
            sent, total = await sms_counts(runtime)
        seconds = time.perf_counter() - began
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            await asyncio.wait_for(process.wait(), timeout=15)
    label = f"{workers} worker process{'es' if workers > 1 else ''}"
    report(label, total - first, seconds, counter)


def run_backend(database_url: str, count: int, counter: TwilioCounter, twilio_url: str) -> None:
    backend = database_url.split(":", 1)[0]
    print(f"\nbackend {backend}, {count} notifications (in-app + SMS each)")
    with tempfile.TemporaryDirectory() as var_dir:
        env = {
            **harness.environment(database_url, var_dir),
            "CLINICFLOW_SECRET_KEY": SECRET,
            **twilio_env(twilio_url),
        }
        harness.migrate(env)

        async def run() -> None:
            runtime = build_runtime(settings_for(database_url, var_dir, twilio_url))
            try:
                seconds = await queue_notifications(runtime, count)
                print(
                    f"  {'queued through the service':<34} {count / seconds:8.0f} notifications/s"
                )
                if backend.startswith("sqlite"):
                    counter.reset()
                    await in_process(runtime, counter)
                    return
                for workers in (1, 2):
                    counter.reset()
                    if workers > 1:
                        await make_due_again(runtime)
                    await with_workers(runtime, env, workers, counter)
            finally:
                await runtime.close()

        asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL to use as is")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--notifications", type=int, default=10_000)
    args = parser.parse_args()
    counter = TwilioCounter()
    with stand_in(counter) as twilio_url:
        with tempfile.TemporaryDirectory() as scratch:
            sqlite = f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
            run_backend(sqlite, args.notifications, counter, twilio_url)
        if args.database_url:
            run_backend(args.database_url, args.notifications, counter, twilio_url)
        elif not args.skip_postgres:
            name = asyncio.run(create_database(DEFAULT_POSTGRES))
            if name is None:
                return
            try:
                run_backend(f"{DEFAULT_POSTGRES}/{name}", args.notifications, counter, twilio_url)
            finally:
                asyncio.run(drop_database(DEFAULT_POSTGRES, name))


if __name__ == "__main__":
    main()
