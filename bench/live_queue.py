"""The live queue under load: how long until every waiting patient sees the doctor's call?

Fills one doctor's queue of the day with N walk-ins (registered by a receptionist over HTTP,
each then signing in by phone code), opens one `/ws` socket per patient subscribed to
`queue:<doctor_id>:<date>`, and has the doctor call the next patient C times. For each call
it times, from the moment the call-next request is sent, the arrival of that call's
`queue.updated` event (the one whose `changed` holds the called token as `in_consultation`)
at every socket: the figure is when the *last* patient has the new position, and the median
socket too. Between calls the doctor finishes the visit, and the next call waits until every
socket has seen that finish, so one call's frames never queue behind another's.

    .venv/bin/python bench/live_queue.py [--patients 1000] [--calls 50] [--skip-bare]
                                    [--skip-sqlite] [--skip-postgres] [--profile FILE]
                                    [--postgres URL] [--redis-url URL]

First a bare twin takes the same load in the same run: a `websockets` server in a child
process that answers `GET /call-next` and then broadcasts one frame of the same shape and
size to every follower (no authentication, no database). Each clinicflow figure is printed
with its ratio to the bare one (target: last patient p99 at most 2.5x the bare fan-out,
and the call-next answer p99 at most 50 ms, back before the fan-out is done).

Two servers take the same load, in turn: clinicflow on SQLite (a temporary file), one
`clinicflow serve` process; and on PostgreSQL + Redis, two processes, the patients' sockets
split between them and the doctor's calls sent to the first, so half the events cross
processes through Redis. The PostgreSQL run creates a throwaway database on
postgresql+asyncpg://postgres@127.0.0.1:5432 (dropped afterwards), or empties the one
`--postgres` names, and uses `--redis-url` (db 9 by default, flushed before and after); it
is skipped, with a note, when either does not answer.

The clients run in this one process (one clock for the request and every receipt), on the
same two cores as the server(s) and the databases: each call sends N frames that this
process must also read and parse, so the figures include the time a ready frame waits for
a core. Prints the seeding time, then per run: the last-patient latency median, p99 and
max over the calls, the median socket's latency (median over calls), the call-next
request's own latency, how many answers came back before their call's last update, the
server's CPU time per call (a call and the finish after it, all the server's threads, from
/proc: the figure that moves least when something else shares the machine), and any
socket that closed or missed a call (must be 0). `--profile FILE` records the (first)
clinicflow server with py-spy while the calls run (raw format, `--threads --gil`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

import harness
from booking import DEFAULT_POSTGRES, create_database, drop_database
from chat import Account, expect_ok, flush_redis, log_in, run_async, seed_staff, sign_in_patient

T = TypeVar("T")

REDIS_URL = "redis://127.0.0.1:6379/9"
BARE_PORTS = range(8590, 8600)  # the bare twin's port: helper B's range
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
    # The answer came back before the last follower had the update.
    answer_first: bool


@dataclass
class Outcome:
    calls: list[Call]
    cpu_ms_per_call: float


# --- the bare twin -----------------------------------------------------------------------------


def update_frame(topic: str, token: int, status: str, waiting: list[int]) -> str:
    """A `queue.updated` frame of the shape and size clinicflow sends (the public state,
    the waiting order, what changed)."""
    data = {
        "revision": token * 2 + (status == "completed"),
        "serving_token": token,
        "waiting_count": len(waiting),
        "paused": False,
        "doctor_away": False,
        "average_minutes": 10.0,
        "order": waiting,
        "changed": [{"id": f"{token:032x}", "token": token, "status": status}],
        "recalled_token": None,
    }
    event = {"topic": topic, "type": "queue.updated", "seq": None, "data": data}
    return json.dumps(event, separators=(",", ":"))


def serve_bare(port: int) -> None:
    """The floor for one call fanned out: a `websockets` server that answers
    `GET /call-next` (or `/finish?token=N`) at once, then sends one frame to every
    follower of the queue with `websockets.broadcast` (one encoding, a write per socket).
    No authentication, no database, no outbox."""
    from websockets.asyncio.server import ServerConnection, broadcast, serve
    from websockets.http11 import Request, Response

    followers: set[ServerConnection] = set()
    waiting: list[int] = []
    state = {"topic": "", "served": 0}

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        if path not in ("/call-next", "/finish"):
            return None  # a socket
        loop = asyncio.get_running_loop()
        if path == "/call-next":
            token = waiting.pop(0)
            frame = update_frame(state["topic"], token, "in_consultation", list(waiting))
        else:
            token = int(query.partition("=")[2])
            frame = update_frame(state["topic"], token, "completed", list(waiting))
        # After the answer is written (the handshake writes it when this returns).
        loop.call_soon(broadcast, list(followers), frame)
        return connection.respond(200, json.dumps({"token": token, "id": str(token)}))

    async def handler(websocket: ServerConnection) -> None:
        try:
            async for text in websocket:
                request = json.loads(text)
                op = request.get("op")
                if op == "ping":
                    await websocket.send(json.dumps({"op": "pong"}))
                elif op == "subscribe":
                    state["topic"] = request["topic"]
                    followers.add(websocket)
                    waiting.append(len(waiting) + 1)
                    await websocket.send(json.dumps({"op": "subscribed", "topic": state["topic"]}))
        except ConnectionClosed:
            pass
        finally:
            followers.discard(websocket)

    async def main() -> None:
        async with serve(
            handler, "127.0.0.1", port, process_request=process_request, compression=None
        ) as server:
            await server.serve_forever()

    run_async(main())


def bare_port() -> int:
    for port in BARE_PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port in {BARE_PORTS}")


@contextlib.contextmanager
def bare_server() -> Iterator[tuple[str, int]]:
    """Run `serve_bare` in a child process; yields its base URL and process id."""
    port = bare_port()
    with harness.bare_child(__file__, port) as process:
        yield f"http://127.0.0.1:{port}", process.pid


# --- the server's CPU and profile ------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children() -> list[int]:
    """This process's children (the servers `harness.serving` started), oldest first."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == os.getpid():
                    found.append(int(entry.name))
    return sorted(found)


@contextlib.contextmanager
def profiling(pid: int, path: str | None) -> Iterator[None]:
    """py-spy on `pid` for the block (raw format, every thread, GIL holder) when asked."""
    if path is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    recorder = subprocess.Popen(
        [spy, "record", "-p", str(pid), "--threads", "--gil", "-f", "raw", "-o", path, "-r", "200"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        recorder.send_signal(2)
        recorder.wait(timeout=30)


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
    # Kenyan mobiles 710 000 000-728 999 999 (nine national digits; twelve were refused).
    first = 710_000_000 + secrets.randbelow(190) * 100_000
    phones = [f"+254{first + n}" for n in range(patients)]

    async def walk_in(n: int) -> dict[str, Any]:
        body = {"doctor_id": doctor.id, "phone": phones[n], "name": f"Patient {n}"}
        return expect_ok(await http.post("/api/queue/walk-in", json=body, headers=desk.headers))

    entries = await limited_all(SEED_AT_ONCE, [walk_in(n) for n in range(patients)])
    accounts = await limited_all(
        SEED_AT_ONCE,
        [sign_in_patient(http, phone, f"Patient {n}") for n, phone in enumerate(phones)],
    )
    return f"queue:{doctor.id}:{entries[0]['date']}", accounts


async def follow(url: str, headers: dict[str, str], topic: str, index: int) -> Follower:
    connection = await connect(
        url, additional_headers=headers, max_queue=None, open_timeout=60, compression=None
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


async def subscribe_all(
    ws_urls: list[str], headers: list[dict[str, str]], topic: str
) -> list[Follower]:
    began = time.perf_counter()
    followers = await limited_all(
        CONNECT_AT_ONCE,
        [follow(ws_urls[n % len(ws_urls)], header, topic, n) for n, header in enumerate(headers)],
    )
    print(
        f"  {len(followers)} sockets subscribed in {time.perf_counter() - began:.1f} s "
        f"over {len(ws_urls)} server process(es)"
    )
    return followers


# Sends the call-next request, returns the called token and what finishing it needs.
CallNext = Callable[[], Awaitable[tuple[int, str]]]
Finish = Callable[[int, str], Awaitable[None]]


async def measure(
    followers: list[Follower],
    call_next: CallNext,
    finish: Finish,
    calls: int,
    server: int,
    profile: str | None,
) -> Outcome:
    """`calls` calls, each timed to every follower, then finished and seen finished."""
    measured: list[Call] = []
    try:
        with profiling(server, profile):
            cpu_before = cpu_seconds(server)
            for _ in range(calls):
                sent = time.perf_counter()
                token, entry = await call_next()
                answered = time.perf_counter()
                await until_all(followers, Follower.saw_call, token)
                seen = [f.called[token] - sent for f in followers if token in f.called]
                measured.append(
                    Call(
                        request_ms=(answered - sent) * 1000,
                        last_ms=max(seen) * 1000,
                        median_ms=statistics.median(seen) * 1000,
                        missed=len(followers) - len(seen),
                        answer_first=answered - sent < max(seen),
                    )
                )
                await finish(token, entry)
                await until_all(followers, Follower.saw_finish, token)
            cpu = cpu_seconds(server) - cpu_before
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
    return Outcome(measured, cpu / calls * 1000)


async def drive(
    urls: list[str], doctor_email: str, desk_email: str, args: argparse.Namespace
) -> Outcome:
    async with httpx.AsyncClient(base_url=urls[0], timeout=120) as http:
        began = time.perf_counter()
        doctor, desk = await log_in(http, doctor_email), await log_in(http, desk_email)
        topic, patients = await seed_queue(http, doctor, desk, args.patients)
        print(f"  seeded {len(patients)} waiting patients in {time.perf_counter() - began:.1f} s")
        ws_urls = [url.replace("http://", "ws://", 1) + "/ws" for url in urls]
        # The doctor's page follows the queue too: without it the worker would show the
        # patients "doctor away" (a notification each) in the middle of the calls.
        (doctor_page,) = await subscribe_all(ws_urls[:1], [doctor.headers], topic)
        followers = await subscribe_all(ws_urls, [p.headers for p in patients], topic)

        async def call_next() -> tuple[int, str]:
            url = f"/api/queue/{doctor.id}/call-next"
            entry = expect_ok(await http.post(url, headers=doctor.headers))
            return int(entry["token"]), str(entry["id"])

        async def finish(_token: int, entry: str) -> None:
            url = f"/api/queue/entries/{entry}/finish"
            expect_ok(await http.post(url, headers=doctor.headers))

        try:
            return await measure(
                followers, call_next, finish, args.calls, children()[0], args.profile
            )
        finally:
            for task in doctor_page.tasks:
                task.cancel()
            await doctor_page.connection.close()


async def drive_bare(url: str, server: int, args: argparse.Namespace) -> Outcome:
    ws_url = url.replace("http://", "ws://", 1) + "/"
    followers = await subscribe_all([ws_url], [{} for _ in range(args.patients)], "queue:bare")
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:

        async def call_next() -> tuple[int, str]:
            answer = expect_ok(await http.get("/call-next"))
            return int(answer["token"]), ""

        async def finish(token: int, _entry: str) -> None:
            expect_ok(await http.get(f"/finish?token={token}"))

        return await measure(followers, call_next, finish, args.calls, server, None)


def report(outcome: Outcome, bare: Outcome | None) -> None:
    calls = outcome.calls
    last = [c.last_ms for c in calls]
    request = [c.request_ms for c in calls]
    last_p99 = harness.percentile(last, 0.99)
    request_p99 = harness.percentile(request, 0.99)
    ratio = ""
    if bare is not None and bare is not outcome:
        bare_p99 = harness.percentile([c.last_ms for c in bare.calls], 0.99)
        ratio = f"   = {last_p99 / bare_p99:.2f}x the bare fan-out ({bare_p99:.1f} ms)"
    print(
        f"  last patient   median {statistics.median(last):8.1f} ms   "
        f"p99 {last_p99:8.1f} ms   max {max(last):8.1f} ms   ({len(calls)} calls){ratio}"
    )
    print(f"  median socket  median {statistics.median(c.median_ms for c in calls):8.1f} ms")
    ratio = ""
    if bare is not None and bare is not outcome:
        bare_request = harness.percentile([c.request_ms for c in bare.calls], 0.99)
        ratio = f"   = {request_p99 / bare_request:.2f}x the bare answer ({bare_request:.1f} ms)"
    print(
        f"  call-next request  median {statistics.median(request):6.1f} ms   "
        f"p99 {request_p99:6.1f} ms{ratio}"
    )
    first = sum(c.answer_first for c in calls)
    print(f"  answers back before their call's last update: {first} of {len(calls)}")
    print(f"  server CPU per call (a call and its finish): {outcome.cpu_ms_per_call:.1f} ms")
    print(f"  patients who missed a call: {sum(c.missed for c in calls)} (must be 0)")


def load() -> str:
    """The machine's load averages (1, 5, 15 min), printed beside the figures."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(
    args: argparse.Namespace,
    database_url: str,
    redis_url: str | None,
    servers: int,
    bare: Outcome | None,
) -> None:
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
            report(run_async(drive(urls, doctor_email, desk_email, args)), bare)


async def empty_database(url: str) -> None:
    """Drop everything in the benchmark's own database (`--postgres`) before a run."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--profile", help="py-spy raw output of the server's calls (SQLite run)")
    parser.add_argument("--postgres", help="a database of your own to empty and use")
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        serve_bare(args.bare_server)
        return
    if args.calls > args.patients:
        parser.error("--calls must not exceed --patients")
    print(f"load average {load()}")
    bare = None
    if not args.skip_bare:
        print("bare websockets fan-out, one process")
        with bare_server() as (url, pid):
            bare = run_async(drive_bare(url, pid, args))
        report(bare, None)
    if not args.skip_sqlite:
        print("clinicflow on SQLite, one process")
        with tempfile.TemporaryDirectory() as scratch:
            run(args, f"sqlite+aiosqlite:///{scratch}/bench.db", None, 1, bare)
        args.profile = None
    if not args.skip_postgres and flush_redis(args.redis_url):
        if args.postgres:
            asyncio.run(empty_database(args.postgres))
            print("clinicflow on PostgreSQL + Redis, two processes")
            try:
                run(args, args.postgres, args.redis_url, 2, bare)
            finally:
                flush_redis(args.redis_url)
        elif (name := asyncio.run(create_database(DEFAULT_POSTGRES))) is not None:
            print("clinicflow on PostgreSQL + Redis, two processes")
            try:
                run(args, f"{DEFAULT_POSTGRES}/{name}", args.redis_url, 2, bare)
            finally:
                asyncio.run(drop_database(DEFAULT_POSTGRES, name))
                flush_redis(args.redis_url)
    print(f"load average {load()}")


if __name__ == "__main__":
    main()
