"""The live queue under load: how long until every waiting patient sees the doctor's call?

Fills one doctor's queue of the day with N walk-ins (registered by a receptionist over HTTP,
each then signing in by phone code), opens one `/ws` socket per patient subscribed to
`queue:<doctor_id>:<date>`, and has the doctor call the next patient C times. For each call
it times, from the moment the call-next request is sent, the arrival of that call's
`queue.updated` event (the one whose `changed` holds the called token as `in_consultation`)
at every socket: the figure is when the *last* patient has the new position, and the median
socket too. Between calls the doctor finishes the visit, and the next call waits until every
socket has seen that finish, so one call's frames never queue behind another's.

    .venv/bin/python bench/live_queue.py [--patients 1000] [--calls 50]
                                    [--skip-sqlite] [--skip-postgres]

Two servers take the same load, in turn: clinicflow on SQLite (a temporary file), one
`clinicflow serve` process; and on PostgreSQL + Redis, two processes, the patients' sockets
split between them and the doctor's calls sent to the first, so half the events cross
processes through Redis. The PostgreSQL run creates a throwaway database on
postgresql+asyncpg://postgres@127.0.0.1:5432 (dropped afterwards) and uses Redis db 9
(flushed before and after); it is skipped, with a note, when either does not answer.

The clients run in this one process (one clock for the request and every receipt), on the
same two cores as the server(s) and the databases: each call sends N frames that this
process must also read and parse, so the figures include the time a ready frame waits for
a core. Prints the seeding time, then per run: the last-patient latency median, p99 and
max over the calls, the median socket's latency (median over calls), the call-next
request's own latency, and any socket that closed or missed a call (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

import harness
from booking import DEFAULT_POSTGRES, create_database, drop_database
from chat import Account, expect_ok, flush_redis, log_in, run_async, seed_staff, sign_in_patient

T = TypeVar("T")

REDIS_URL = "redis://127.0.0.1:6379/9"
SEED_AT_ONCE = 16  # HTTP requests in flight while seeding
CONNECT_AT_ONCE = 50  # handshakes and subscribes in flight
WAIT_SECONDS = 60.0  # for every socket to see one call
PING_SECONDS = 15.0  # the browser client's interval; the server closes after 30 s of silence
PING = json.dumps({"op": "ping"})


@dataclass
class Follower:
    """One patient's socket: when it saw each called token, and each finished one."""

    index: int
    connection: ClientConnection
    topic: str
    called: dict[int, float] = field(default_factory=dict)
    finished: set[int] = field(default_factory=set)
    closed: str | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def read(self) -> None:
        try:
            async for frame in self.connection:
                at = time.perf_counter()
                event = json.loads(frame)
                if event.get("topic") != self.topic or event.get("type") != "queue.updated":
                    continue
                for change in event["data"]["changed"]:
                    if change["status"] == "in_consultation":
                        self.called.setdefault(change["token"], at)
                    elif change["status"] == "completed":
                        self.finished.add(change["token"])
        except ConnectionClosed as exc:
            self.closed = (
                f"{exc.rcvd.code if exc.rcvd else 'none'} {exc.rcvd.reason if exc.rcvd else ''}"
            )

    def saw_call(self, token: int) -> bool:
        return token in self.called

    def saw_finish(self, token: int) -> bool:
        return token in self.finished

    async def keep_alive(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(PING_SECONDS)
                await self.connection.send(PING)


@dataclass
class Call:
    request_ms: float
    last_ms: float
    median_ms: float
    missed: int


async def limited_all(limit: int, works: list[Coroutine[Any, Any, T]]) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def one(work: Coroutine[Any, Any, T]) -> T:
        async with gate:
            return await work

    return await asyncio.gather(*(one(work) for work in works))


async def seed_queue(
    http: httpx.AsyncClient, doctor: Account, desk: Account, patients: int
) -> tuple[str, list[Account]]:
    """N walk-ins in the doctor's queue of today, each signed in: (topic, patients)."""
    prefix = 1_000_000 + secrets.randbelow(8_000_000)  # +254 and 12 digits: E.164
    phones = [f"+254{prefix}{n:05d}" for n in range(patients)]

    async def walk_in(n: int) -> dict[str, Any]:
        body = {"doctor_id": doctor.id, "phone": phones[n], "name": f"Patient {n}"}
        return expect_ok(await http.post("/api/queue/walk-in", json=body, headers=desk.headers))

    entries = await limited_all(SEED_AT_ONCE, [walk_in(n) for n in range(patients)])
    accounts = await limited_all(
        SEED_AT_ONCE,
        [sign_in_patient(http, phone, f"Patient {n}") for n, phone in enumerate(phones)],
    )
    return f"queue:{doctor.id}:{entries[0]['date']}", accounts


async def follow(url: str, patient: Account, topic: str, index: int) -> Follower:
    connection = await connect(
        url, additional_headers=patient.headers, max_queue=None, open_timeout=60
    )
    await connection.send(json.dumps({"op": "subscribe", "topic": topic}))
    while True:
        reply = json.loads(await connection.recv())
        if reply.get("op") == "subscribed":
            follower = Follower(index=index, connection=connection, topic=topic)
            # Read and ping from now on: the server closes a socket silent for 30 s.
            follower.tasks = [
                asyncio.create_task(follower.read()),
                asyncio.create_task(follower.keep_alive()),
            ]
            return follower
        if reply.get("op") == "error":
            raise RuntimeError(f"subscribe refused: {reply}")


async def until_all(
    followers: list[Follower], saw: Callable[[Follower, int], bool], token: int
) -> None:
    """Poll until every follower saw `token`'s event, or WAIT_SECONDS have gone (the
    receipt times are taken by the readers, so the polling step does not blur them)."""
    for _ in range(int(WAIT_SECONDS / 0.005)):
        if all(f.closed or saw(f, token) for f in followers):
            return
        await asyncio.sleep(0.005)


async def drive(
    urls: list[str], doctor_email: str, desk_email: str, args: argparse.Namespace
) -> list[Call]:
    async with httpx.AsyncClient(base_url=urls[0], timeout=120) as http:
        began = time.perf_counter()
        doctor, desk = await log_in(http, doctor_email), await log_in(http, desk_email)
        topic, patients = await seed_queue(http, doctor, desk, args.patients)
        print(f"  seeded {len(patients)} waiting patients in {time.perf_counter() - began:.1f} s")

        ws_urls = [url.replace("http://", "ws://", 1) + "/ws" for url in urls]
        began = time.perf_counter()
        followers = await limited_all(
            CONNECT_AT_ONCE,
            [
                follow(ws_urls[n % len(ws_urls)], patient, topic, n)
                for n, patient in enumerate(patients)
            ],
        )
        print(
            f"  {len(followers)} sockets subscribed in {time.perf_counter() - began:.1f} s "
            f"over {len(urls)} server process(es)"
        )
        calls: list[Call] = []
        try:
            for _ in range(args.calls):
                sent = time.perf_counter()
                entry = expect_ok(
                    await http.post(f"/api/queue/{doctor.id}/call-next", headers=doctor.headers)
                )
                answered = time.perf_counter()
                token = entry["token"]
                await until_all(followers, Follower.saw_call, token)
                seen = [f.called[token] - sent for f in followers if token in f.called]
                calls.append(
                    Call(
                        request_ms=(answered - sent) * 1000,
                        last_ms=max(seen) * 1000,
                        median_ms=statistics.median(seen) * 1000,
                        missed=len(followers) - len(seen),
                    )
                )
                expect_ok(
                    await http.post(
                        f"/api/queue/entries/{entry['id']}/finish", headers=doctor.headers
                    )
                )
                await until_all(followers, Follower.saw_finish, token)
        finally:
            for task in (task for f in followers for task in f.tasks):
                task.cancel()
            closes: dict[str, int] = defaultdict(int)
            for f in followers:
                if f.closed:
                    closes[f.closed] += 1
            await asyncio.gather(*(f.connection.close() for f in followers))
        if closes:
            print(f"  sockets closed by the server: {dict(closes)}")
        return calls


def report(calls: list[Call]) -> None:
    last = [c.last_ms for c in calls]
    print(
        f"  last patient   median {statistics.median(last):8.1f} ms   "
        f"p99 {harness.percentile(last, 0.99):8.1f} ms   max {max(last):8.1f} ms   "
        f"({len(calls)} calls)"
    )
    print(f"  median socket  median {statistics.median(c.median_ms for c in calls):8.1f} ms")
    request = [c.request_ms for c in calls]
    print(
        f"  call-next request  median {statistics.median(request):6.1f} ms   "
        f"p99 {harness.percentile(request, 0.99):6.1f} ms"
    )
    print(f"  patients who missed a call: {sum(c.missed for c in calls)} (must be 0)")


def run(args: argparse.Namespace, database_url: str, redis_url: str | None, servers: int) -> None:
    with tempfile.TemporaryDirectory() as var_dir:
        env = harness.environment(database_url, var_dir)
        env["OTP_REQUESTS_PER_PHONE_PER_HOUR"] = str(max(5, args.patients))
        if redis_url:
            env["REDIS_URL"] = redis_url
        harness.migrate(env)
        doctor_email, desk_email = asyncio.run(
            seed_staff(database_url, var_dir, ["doctor", "receptionist"])
        )
        with contextlib.ExitStack() as stack:
            urls = [stack.enter_context(harness.serving(env)) for _ in range(servers)]
            report(run_async(drive(urls, doctor_email, desk_email, args)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    if args.calls > args.patients:
        parser.error("--calls must not exceed --patients")
    if not args.skip_sqlite:
        print("clinicflow on SQLite, one process")
        with tempfile.TemporaryDirectory() as scratch:
            run(args, f"sqlite+aiosqlite:///{scratch}/bench.db", None, servers=1)
    if not args.skip_postgres and flush_redis(REDIS_URL):
        name = asyncio.run(create_database(DEFAULT_POSTGRES))
        if name is not None:
            print("clinicflow on PostgreSQL + Redis, two processes")
            try:
                run(args, f"{DEFAULT_POSTGRES}/{name}", REDIS_URL, servers=2)
            finally:
                asyncio.run(drop_database(DEFAULT_POSTGRES, name))
                flush_redis(REDIS_URL)


if __name__ == "__main__":
    main()
