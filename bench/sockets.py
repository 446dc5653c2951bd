"""20,000 idle sockets on one server process: what each costs, what idling costs, and how
long one queue update takes to reach them all.

    .venv/bin/python bench/sockets.py [--sockets 20000] [--clients 4] [--idle 20]
                                      [--updates 3] [--skip-bare] [--profile FILE]

Two servers take the same sockets, one after the other, in the same run:

1. the bare twin: a `websockets` server (no authentication, no database) that answers
   `subscribe` and `ping` and broadcasts one frame to a topic's followers on
   `GET /publish`;
2. clinicflow (`clinicflow serve`, one process, SQLite in a temporary directory). Its
   20,000 patients are made in bulk in the fresh database (users, logins, and a finished
   place each in one doctor's queue of today, so each may follow that queue), and their
   access tokens are signed with the app's own function; three more patients wait, for
   the doctor to call.

Each socket authenticates with its bearer token (the bare one sends it too), follows its
`user:<id>` topic and the queue topic, and pings every 15 s as the browser does (the server
closes a socket silent for 30 s). The sockets are opened by `--clients` separate processes.
Printed per server: its RSS before and after the sockets (from /proc) and so the memory per
socket (target <= 40 KiB), its CPU while the sockets idle for `--idle` seconds (target
<= 10 % of a core), and per update (a call-next; for the bare twin, a publish) the p50,
p99 and max time from the request being sent to each socket having it (target p99 <= 1 s),
then clinicflow's figures as ratios to the bare ones.

File descriptors: each side needs one per socket; the benchmark raises its own limit (and so
its children's) where the system allows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx

import harness
from chat import PASSWORD, account, expect_ok, run_async, seed_staff
from live_queue import bare_port, children, cpu_seconds, load, profiling, update_frame

CONNECT_AT_ONCE = 50  # handshakes and subscribes in flight per client process
PING_SECONDS = 15.0
WAIT_SECONDS = 30.0  # for every socket to see one update
CALLED = 3  # waiting patients the doctor calls, one per update


@dataclass
class Figures:
    rss_before_kib: int
    rss_after_kib: int
    sockets: int
    open_seconds: float
    idle_cpu_share: float
    updates: list[list[float]]  # per update, each socket's latency in ms
    missed: int

    @property
    def kib_per_socket(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / self.sockets


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def raise_fd_limit(wanted: int) -> None:
    """One descriptor per socket on each side, plus room: raise the soft (and, as root,
    the hard) limit; the children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(wanted, hard), max(wanted, hard)))
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, wanted), hard), hard))


# --- the client processes --------------------------------------------------------------------


async def client_main(url: str) -> None:
    """One client process: read its sockets from stdin (one JSON line: the queue topic and
    each socket's token and user id), open and subscribe them, say `ready`, then answer
    `wait <token>` lines with every socket's receipt time of that token's call."""
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.exceptions import ConnectionClosed

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 28)  # the plan is one long line
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    plan = json.loads(await reader.readline())
    topic: str = plan["topic"]
    seen: list[dict[int, float]] = []
    closed: list[str] = []
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    tasks: list[asyncio.Task[None]] = []

    async def run(token: str, user_id: str, index: int) -> ClientConnection:
        async with gate:
            connection = await connect(
                url,
                additional_headers={"Authorization": f"Bearer {token}"},
                compression=None,
                max_queue=None,
                open_timeout=300,
                ping_interval=None,
            )
            for name in (f"user:{user_id}", topic):
                await connection.send(json.dumps({"op": "subscribe", "topic": name}))
                while True:
                    reply = json.loads(await connection.recv())
                    if reply.get("op") == "subscribed":
                        break
                    if reply.get("op") == "error":
                        raise RuntimeError(f"subscribe refused: {reply}")
        calls = seen[index]

        async def read() -> None:
            try:
                async for frame in connection:
                    at = time.monotonic()
                    if '"in_consultation"' not in frame:
                        continue
                    event = json.loads(frame)
                    if event.get("topic") != topic or event.get("type") != "queue.updated":
                        continue
                    for change in event["data"]["changed"]:
                        if change["status"] == "in_consultation":
                            calls.setdefault(change["token"], at)
            except ConnectionClosed as exc:
                closed.append(str(exc.rcvd.code if exc.rcvd else "none"))

        async def ping() -> None:
            with contextlib.suppress(ConnectionClosed):
                await asyncio.sleep(random.uniform(0, PING_SECONDS))
                while True:
                    await connection.send('{"op":"ping"}')
                    await asyncio.sleep(PING_SECONDS)

        tasks.extend([asyncio.create_task(read()), asyncio.create_task(ping())])
        return connection

    for _ in plan["sockets"]:
        seen.append({})
    connections = await asyncio.gather(
        *(run(token, user, n) for n, (token, user) in enumerate(plan["sockets"]))
    )
    print("ready", flush=True)
    while line := (await reader.readline()).decode().strip():
        command, _, argument = line.partition(" ")
        if command != "wait":
            break
        token = int(argument)
        for _ in range(int(WAIT_SECONDS / 0.01)):
            if all(token in calls for calls in seen):
                break
            await asyncio.sleep(0.01)
        times = [calls[token] for calls in seen if token in calls]
        print(json.dumps({"times": times, "missed": len(seen) - len(times)}), flush=True)
    print(json.dumps({"closed": len(closed)}), flush=True)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)


@dataclass
class Client:
    process: subprocess.Popen[str]

    @property
    def stdin(self) -> IO[str]:
        assert self.process.stdin is not None
        return self.process.stdin

    def line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a client process ended early")
        return line


@contextlib.contextmanager
def clients(
    url: str, topic: str, sockets: list[tuple[str, str]], count: int
) -> Iterator[list[Client]]:
    started = []
    try:
        for n in range(count):
            process = subprocess.Popen(
                [sys.executable, __file__, "--client", url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            client = Client(process)
            started.append(client)
            client.stdin.write(json.dumps({"topic": topic, "sockets": sockets[n::count]}) + "\n")
            client.stdin.flush()
        yield started
    finally:
        for client in started:
            with contextlib.suppress(OSError):
                client.stdin.close()
        for client in started:
            try:
                client.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                client.process.kill()
                client.process.wait()


def measure(
    server: int,
    url: str,
    topic: str,
    sockets: list[tuple[str, str]],
    args: argparse.Namespace,
    update: Any,
    settle: Any = None,
) -> Figures:
    """Open the sockets, idle, then time `args.updates` updates (`update()` sends one and
    returns the token it called; `settle()`, if given, runs between updates, untimed)."""
    time.sleep(1.0)
    before = rss_kib(server)
    began = time.perf_counter()
    with clients(url, topic, sockets, args.clients) as running:
        for client in running:
            if client.line().strip() != "ready":
                raise RuntimeError("a client process did not open its sockets")
        opened = time.perf_counter() - began
        time.sleep(2.0)
        after = rss_kib(server)
        with profiling(server, args.profile_idle):
            cpu = cpu_seconds(server)
            time.sleep(args.idle)
            idle_share = (cpu_seconds(server) - cpu) / args.idle
        updates: list[list[float]] = []
        missed = 0
        with profiling(server, args.profile):
            for _ in range(args.updates):
                sent = time.monotonic()
                token = update()
                latencies: list[float] = []
                for client in running:
                    client.stdin.write(f"wait {token}\n")
                    client.stdin.flush()
                for client in running:
                    answer = json.loads(client.line())
                    latencies += [(at - sent) * 1000 for at in answer["times"]]
                    missed += answer["missed"]
                updates.append(latencies)
                if settle is not None:
                    settle()
                time.sleep(1.0)
        for client in running:
            client.stdin.write("done\n")
            client.stdin.flush()
        closed = sum(json.loads(client.line())["closed"] for client in running)
    if closed:
        print(f"  sockets closed by the server: {closed}")
    return Figures(before, after, len(sockets), opened, idle_share, updates, missed)


# --- the bare twin ---------------------------------------------------------------------------


def serve_bare(port: int) -> None:
    """Follow, ping and broadcast, nothing more (one frame per topic per publish)."""
    from websockets.asyncio.server import ServerConnection, broadcast, serve
    from websockets.exceptions import ConnectionClosed
    from websockets.http11 import Request, Response

    followers: dict[str, set[ServerConnection]] = {}

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        if path != "/publish":
            return None
        values = dict(part.split("=", 1) for part in query.split("&"))
        topic, token = values["topic"], int(values["token"])
        frame = update_frame(topic, token, "in_consultation", [])
        asyncio.get_running_loop().call_soon(broadcast, list(followers.get(topic, ())), frame)
        return connection.respond(200, "{}")

    async def handler(websocket: ServerConnection) -> None:
        followed: list[str] = []
        try:
            async for text in websocket:
                request = json.loads(text)
                op = request.get("op")
                if op == "ping":
                    await websocket.send('{"op":"pong"}')
                elif op == "subscribe":
                    topic = request["topic"]
                    followers.setdefault(topic, set()).add(websocket)
                    followed.append(topic)
                    await websocket.send(json.dumps({"op": "subscribed", "topic": topic}))
        except ConnectionClosed:
            pass
        finally:
            for topic in followed:
                followers[topic].discard(websocket)

    async def main() -> None:
        async with serve(
            handler, "127.0.0.1", port, process_request=process_request, compression=None
        ) as server:
            await server.serve_forever()

    run_async(main())


def run_bare(args: argparse.Namespace) -> Figures:
    port = bare_port()
    with harness.bare_child(__file__, port) as server:
        url = f"http://127.0.0.1:{port}"
        topic = "queue:bare"
        sockets = [(f"token-{n}", str(uuid.uuid4())) for n in range(args.sockets)]
        tokens = iter(range(1, 1 + args.updates))

        def update() -> int:
            token = next(tokens)
            httpx.get(f"{url}/publish?topic={topic}&token={token}").raise_for_status()
            return token

        return measure(server.pid, url.replace("http", "ws") + "/", topic, sockets, args, update)


# --- clinicflow ------------------------------------------------------------------------------


async def seed_patients(
    database_url: str, var_dir: str, doctor_id: str, count: int
) -> list[tuple[str, str]]:
    """`count` patients, each with an API login and a finished place in the doctor's queue
    of today (so each may follow it), inserted in bulk beside the one the desk registered;
    returns (access token, user id) for each, signed with the app's own function."""
    from sqlalchemy import insert, select

    from clinicflow.config import Settings
    from clinicflow.core import security
    from clinicflow.identity.models import LoginSession, PatientProfile, User
    from clinicflow.queue.models import QueueEntry
    from clinicflow.runtime import build_runtime

    settings = Settings(env="development", database_url=database_url, var_dir=Path(var_dir))
    runtime = build_runtime(settings)
    now = datetime.now(UTC)
    try:
        async with runtime.transaction() as session:
            doctor = uuid.UUID(doctor_id)
            model = (
                (
                    await session.execute(
                        select(QueueEntry.__table__).where(QueueEntry.doctor_id == doctor).limit(1)
                    )
                )
                .one()
                ._asdict()
            )
            user = (
                (
                    await session.execute(
                        select(User.__table__).where(User.id == model["patient_id"])
                    )
                )
                .one()
                ._asdict()
            )
            profile = (
                (
                    await session.execute(
                        select(PatientProfile.__table__).where(
                            PatientProfile.user_id == model["patient_id"]
                        )
                    )
                )
                .one()
                ._asdict()
            )
            ids = [uuid.uuid4() for _ in range(count)]
            logins = [uuid.uuid4() for _ in range(count)]
            users = [
                {**user, "id": i, "name": f"Patient {n}", "phone": None, "email": None}
                for n, i in enumerate(ids)
            ]
            profiles = [{**profile, "user_id": i} for i in ids]
            sessions = [
                {
                    "id": login,
                    "user_id": i,
                    "kind": "api",
                    "cookie_hash": None,
                    "created_at": now,
                    "expires_at": now + timedelta(days=1),
                    "revoked_at": None,
                    "ip": None,
                    "user_agent": "bench/sockets.py",
                }
                for i, login in zip(ids, logins, strict=True)
            ]
            entries = [
                {
                    **model,
                    "id": uuid.uuid4(),
                    "patient_id": i,
                    "token": 100_000 + n,
                    "status": "completed",
                    "finished_at": now,
                }
                for n, i in enumerate(ids)
            ]
            for table, rows in (
                (User.__table__, users),
                (PatientProfile.__table__, profiles),
                (LoginSession.__table__, sessions),
                (QueueEntry.__table__, entries),
            ):
                for start in range(0, len(rows), 2000):
                    await session.execute(insert(table), rows[start : start + 2000])
    finally:
        await runtime.close()
    return [
        (
            security.encode_access_token(
                secret=settings.secret_key,
                user_id=i,
                session_id=login,
                role="patient",
                minutes=120,
            ),
            str(i),
        )
        for i, login in zip(ids, logins, strict=True)
    ]


def run_clinicflow(args: argparse.Namespace) -> Figures:
    with tempfile.TemporaryDirectory() as var_dir:
        database_url = f"sqlite+aiosqlite:///{var_dir}/bench.db"
        env = harness.environment(database_url, var_dir)
        harness.migrate(env)
        doctor_email, desk_email = asyncio.run(
            seed_staff(database_url, var_dir, ["doctor", "receptionist"])
        )
        with harness.serving(env) as url:
            server = children()[0]
            with httpx.Client(base_url=url, timeout=60) as http:
                doctor, desk = (
                    account(
                        expect_ok(
                            http.post(
                                "/api/auth/login", json={"email": email, "password": PASSWORD}
                            )
                        )
                    )
                    for email in (doctor_email, desk_email)
                )
                day = ""
                for n in range(CALLED):
                    body = {
                        "doctor_id": doctor.id,
                        "phone": f"+25471{n:07d}",
                        "name": f"Walk-in {n}",
                    }
                    entry = expect_ok(
                        http.post("/api/queue/walk-in", json=body, headers=desk.headers)
                    )
                    day = entry["date"]
                began = time.perf_counter()
                sockets = asyncio.run(seed_patients(database_url, var_dir, doctor.id, args.sockets))
                print(f"  seeded {len(sockets)} patients in {time.perf_counter() - began:.1f} s")
                topic = f"queue:{doctor.id}:{day}"

                called: list[str] = []

                def update() -> int:
                    entry = expect_ok(
                        http.post(f"/api/queue/{doctor.id}/call-next", headers=doctor.headers)
                    )
                    called.append(str(entry["id"]))
                    return int(entry["token"])

                def settle() -> None:
                    finish = f"/api/queue/entries/{called[-1]}/finish"
                    expect_ok(http.post(finish, headers=doctor.headers))

                ws_url = url.replace("http://", "ws://", 1) + "/ws"
                return measure(server, ws_url, topic, sockets, args, update, settle)


def report(label: str, figures: Figures, bare: Figures | None) -> None:
    def ratio(ours: float, theirs: float | None) -> str:
        return f"   ({ours / theirs:.2f}x bare)" if theirs else ""

    per_socket = figures.kib_per_socket
    print(
        f"  {figures.sockets} sockets open and subscribed in {figures.open_seconds:.1f} s; "
        f"RSS {figures.rss_before_kib / 1024:.0f} -> {figures.rss_after_kib / 1024:.0f} MiB"
    )
    print(
        f"  memory per socket   {per_socket:8.1f} KiB"
        + ratio(per_socket, bare.kib_per_socket if bare else None)
    )
    print(
        f"  CPU while idle      {figures.idle_cpu_share * 100:8.1f} % of a core"
        + ratio(figures.idle_cpu_share, bare.idle_cpu_share if bare else None)
    )
    for n, latencies in enumerate(figures.updates):
        p99 = harness.percentile(latencies, 0.99)
        bare_p99 = harness.percentile(bare.updates[n], 0.99) if bare and bare.updates else None
        print(
            f"  update {n + 1}: p50 {statistics.median(latencies):7.1f} ms   p99 {p99:7.1f} ms"
            f"   max {max(latencies):7.1f} ms" + ratio(p99, bare_p99)
        )
    print(f"  sockets that missed an update: {figures.missed} (must be 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--updates", type=int, default=CALLED)
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--profile", help="py-spy raw output of clinicflow during the updates")
    parser.add_argument("--profile-idle", help="py-spy raw output of clinicflow while idle")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_fd_limit(args.sockets + 4096)
    if args.client:
        run_async(client_main(args.client))
        return
    if args.bare_server:
        serve_bare(args.bare_server)
        return
    args.updates = min(args.updates, CALLED)
    print(f"load average {load()}")
    bare = None
    if not args.skip_bare:
        print("bare websockets server, one process")
        profiles = args.profile, args.profile_idle
        args.profile = args.profile_idle = None
        bare = run_bare(args)
        args.profile, args.profile_idle = profiles
        report("bare", bare, None)
    print("clinicflow on SQLite, one process")
    report("clinicflow", run_clinicflow(args), bare)
    print(f"load average {load()}")


if __name__ == "__main__":
    main()
