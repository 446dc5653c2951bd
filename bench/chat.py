"""Chat under load: how many messages a second reach the other participant, and how fast?

Opens N consultations, each with one patient socket and one doctor socket on `/ws`, sends
messages over the sockets at a fixed total rate for a fixed time, and times every message
from the moment its sender hands it to the socket to the moment the *other* participant's
socket receives its `message.created` event. Three servers take the same load, in turn:

1. a bare broadcast server written with the `websockets` library (no auth, no database, the
   same frames): what the network stack, the framing and JSON alone cost;
2. clinicflow on SQLite (a temporary file), one `clinicflow serve` process;
3. clinicflow on PostgreSQL + Redis, two `clinicflow serve` processes, every patient's
   socket on the first and every doctor's on the second, so each message crosses processes.

    .venv/bin/python bench/chat.py [--consultations 500] [--rate 1000] [--seconds 30]
                                   [--drain 10] [--doctors 50] [--client-processes 2]
                                   [--timeline] [--skip-bare] [--skip-sqlite]
                                   [--skip-postgres] [--redis-url URL]

The PostgreSQL run creates a throwaway database on postgresql+asyncpg://postgres@127.0.0.1:5432
and drops it afterwards, and uses Redis db 9 on 127.0.0.1:6379 (`--redis-url`), flushed before and after; it
is skipped, with a note, when either does not answer.

Seeding goes through the product: doctors are created through the service layer and log in
with POST /api/auth/login; each patient signs in by phone code (the code is read from the
development outbox), starts a chat consultation with a doctor, and the doctor accepts it.
All patients sign in from 127.0.0.1, so the servers run with OTP_REQUESTS_PER_PHONE_PER_HOUR
raised (the per-address budget is four times it); nothing else is tuned.

The clients behave as the browser client (web/static/js/realtime.js) does: they subscribe
with `since`, ping every 15 s, and after a close reconnect, resume from the last `seq` they
saw and resend what the server has not acknowledged. Each socket sends one message every
sockets/rate seconds (one a second at the defaults), patients and doctors alternating. Both
sockets of a consultation live in the same client process, so one clock times a message.

Prints, per server: sockets, target rate, messages sent per second (and how late the
generator itself sent: its p99 "lag"), messages delivered per second (receipts at the other
participant inside the window), latency p50/p95/p99/max in ms and in which seconds of the
window the messages over 100 ms were sent (one cluster is a pause of the whole server, a
spread is a queue), where the CPU went, the acknowledgement (`sent`) p99, messages missing
after a drain (--drain), received twice or out of `seq` order (these three must be 0),
error replies, and socket closes by code and reason. For clinicflow it also counts the
warnings, errors and tracebacks in each server's log, which it keeps under
/tmp/clinicflow-bench-chat-*. Then clinicflow's throughput and p99 as a ratio to the bare
server's. Target: p99 ≤ 100 ms at 1,000 messages a second.

This machine has two cores, shared by the server process(es), PostgreSQL and Redis, and the
client processes that generate the load (their number is printed): at 1,000 messages a
second the clients send and receive about 4,000 frames a second between them. Latency
therefore includes time a ready frame waited for a core; the lag line shows the clients'
share of that. Other sessions' work on the same machine disturbs the figures, so the cores
busy just before and after each run are printed, and the run is marked DISTURBED when they
are more than a quarter of a core.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import secrets
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

import harness
from booking import DEFAULT_POSTGRES, create_database, drop_database

T = TypeVar("T")

PASSWORD = "bench password 123"
REDIS_URL = "redis://127.0.0.1:6379/9"
BODY = "How are you feeling today? Any fever or cough since yesterday evening?"
PING = json.dumps({"op": "ping"})
PING_SECONDS = 15.0  # the browser client's interval; the server closes after 30 s of silence
OPEN_SECONDS = 180.0  # for all of one client process's sockets to be open and subscribed
SUBSCRIBE_SECONDS = 60.0
CONNECT_AT_ONCE = 25  # handshakes and subscribes in flight per client process
SEED_AT_ONCE = 16  # HTTP requests in flight while seeding
TARGET_P99_MS = 100.0
DATABASES = {"postgres", "redis-server"}
DISTURBED_CORES = 0.25  # other work busier than this around a run makes its figures doubtful
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LOGGED = re.compile(r"\[(warning|error|critical)\s*\]\s+(\S+)")  # structlog's console lines
FRAME = re.compile(r'File "[^"]*/clinicflow/(?:\w+/)*(\w+\.py)", line \d+, in (\w+)')


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """uvloop where installed: `clinicflow serve` runs on it too, so both sides are alike."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


# --- the bare baseline -----------------------------------------------------------------------


def serve_bare(port: int) -> None:
    """A broadcast server speaking the same frames as /ws, and nothing more.

    No authentication, no database, no per-socket outbox: a message gets the topic's next
    seq and goes to every follower with `websockets.broadcast`, then the sender gets `sent`.
    It is the floor any Python websocket server on this machine pays for the same load.
    """
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    followers: dict[str, set[ServerConnection]] = defaultdict(set)
    seqs: Counter[str] = Counter()

    def message_frame(topic: str, request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        seqs[topic] += 1
        message = {
            "id": str(uuid.uuid4()),
            "seq": seqs[topic],
            "client_id": request.get("client_id"),
            "sender_id": None,
            "sender_role": "patient",
            "kind": "text",
            "body": request.get("body"),
            "created_at": datetime.now(UTC).isoformat(),
        }
        event = {"topic": topic, "type": "message.created", "seq": seqs[topic], "data": message}
        return json.dumps(event), message

    async def handler(websocket: ServerConnection) -> None:
        followed: set[str] = set()
        try:
            async for text in websocket:
                request = json.loads(text)
                op, topic = request.get("op"), request.get("topic")
                if op == "ping":
                    await websocket.send(json.dumps({"op": "pong"}))
                elif op == "subscribe":
                    followers[topic].add(websocket)
                    followed.add(topic)
                    reply = {"op": "subscribed", "topic": topic, "seq": seqs[topic]}
                    await websocket.send(json.dumps(reply))
                elif op == "send":
                    frame, message = message_frame(topic, request)
                    broadcast(followers[topic], frame)
                    reply = {
                        "op": "sent",
                        "topic": topic,
                        "client_id": request.get("client_id"),
                        "message": message,
                    }
                    await websocket.send(json.dumps(reply))
        except ConnectionClosed:
            pass
        finally:
            for topic in followed:
                followers[topic].discard(websocket)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", port) as server:
            await server.serve_forever()

    run_async(main())


@contextlib.contextmanager
def bare_server() -> Iterator[str]:
    """Run `serve_bare` in a child process (as clinicflow runs in one); yields its ws URL."""
    port = harness.free_port()
    with harness.bare_child(__file__, port):
        yield f"ws://127.0.0.1:{port}/"


# --- the load: one process's sockets ---------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """One consultation as the load sees it: its topic and how each side's socket connects."""

    index: int
    topic: str
    patient_url: str
    doctor_url: str
    patient_headers: dict[str, str] | None = None
    doctor_headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Plan:
    rate: float  # messages a second, all sockets together
    seconds: float
    sockets: int  # all sockets, in every client process
    drain: float  # how long to wait after the window for messages still on their way

    @property
    def period(self) -> float:
        """How often each socket sends."""
        return self.sockets / self.rate


@dataclass
class Outcome:
    """What one client process saw; client processes' outcomes add up."""

    sockets: int = 0
    sockets_up: int = 0
    sent: int = 0
    held: int = 0  # sends made while the socket was reconnecting (sent on resume)
    acked: int = 0
    delivered: int = 0
    delivered_in_window: int = 0
    missing: int = 0  # sent, never received by the other participant
    missing_acked: int = 0  # of those, acknowledged by the server: stored, then not delivered
    duplicates: int = 0
    out_of_order: int = 0
    reconnects: int = 0
    # Core-seconds used during the send window: by the client processes, by the server
    # processes, and by the whole machine (PostgreSQL and Redis included).
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    machine_cpu: float = 0.0
    # Cores busy in the 2 s before the load and after it (less our servers): other work on
    # the machine, which makes the figures unreliable when it is more than a little.
    background: float = 0.0
    background_after: float = 0.0
    latency_ms: list[float] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    slow: Counter[int] = field(default_factory=Counter)  # second of the window -> slow messages
    timeline: list[tuple[int, float]] = field(default_factory=list)  # (second sent, latency)
    closes: Counter[str] = field(default_factory=Counter)

    def merge(self, other: Outcome) -> None:
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(value, Counter):
                mine.update(value)
            elif isinstance(value, list):
                mine.extend(value)
            else:
                setattr(self, name, mine + value)


class Tally:
    """The process's shared books: when each message left, and which ones arrived."""

    def __init__(self) -> None:
        self.start = 0.0
        self.sent_at: dict[str, float] = {}
        self.arrived: set[str] = set()
        self.acked: set[str] = set()
        self.window_end = float("inf")
        self.outcome = Outcome()

    def sent(self, client_id: str, now: float, due: float) -> None:
        self.sent_at[client_id] = now
        self.outcome.sent += 1
        self.outcome.lag_ms.append((now - due) * 1000)

    def acknowledged(self, client_id: str, now: float) -> None:
        self.acked.add(client_id)
        self.outcome.acked += 1
        self.outcome.ack_ms.append((now - self.sent_at[client_id]) * 1000)

    def delivered(self, client_id: str, now: float) -> None:
        self.arrived.add(client_id)
        self.outcome.delivered += 1
        latency = (now - self.sent_at[client_id]) * 1000
        self.outcome.latency_ms.append(latency)
        second = int(self.sent_at[client_id] - self.start)
        self.outcome.timeline.append((second, latency))
        if latency > TARGET_P99_MS:
            self.outcome.slow[second] += 1
        if now <= self.window_end:
            self.outcome.delivered_in_window += 1

    @property
    def outstanding(self) -> int:
        return len(self.sent_at) - len(self.arrived)

    def finish(self) -> Outcome:
        self.outcome.missing = self.outstanding
        self.outcome.missing_acked = len(self.acked - self.arrived)
        return self.outcome


class Participant:
    """One side's socket of one consultation, behaving as the browser client does.

    It subscribes from the last `seq` it saw, pings every 15 s, and after an unexpected
    close reconnects, resumes and resends every message the server has not acknowledged
    (the server stores one message per client id, so a resend is harmless).
    """

    def __init__(
        self,
        *,
        name: str,
        peer: str,
        topic: str,
        url: str,
        headers: dict[str, str] | None,
        offset: float,
        tally: Tally,
    ) -> None:
        self.name = name
        self.peer = peer
        self.topic = topic
        self.url = url
        self.headers = headers or {}
        self.offset = offset
        self.tally = tally
        self.last_seq = 0
        self.seen: set[int] = set()
        self.received: set[str] = set()  # the peer's client ids already received
        self.unacked: dict[str, str] = {}  # client id -> the send frame
        self.ws: ClientConnection | None = None
        self.subscribed = asyncio.Event()
        self.stopping = False

    # Keeping the socket open.

    async def keep_open(self, gate: asyncio.Semaphore) -> None:
        """Open, subscribe, read until closed; again after a close, until `close()`."""
        failures = 0
        while not self.stopping:
            try:
                ws, reader = await self._open(gate)
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
                status = exc.response.status_code if isinstance(exc, InvalidStatus) else ""
                self.tally.outcome.closes[f"open failed ({type(exc).__name__} {status})"] += 1
                failures += 1
                await asyncio.sleep(min(5.0, 0.25 * 2**failures))
                continue
            failures = 0
            pending = list(self.unacked.values())
            self.ws = ws  # from here on new sends go straight out; none interleaves above
            pinger = asyncio.create_task(self._ping(ws))
            with contextlib.suppress(ConnectionClosed):
                for frame in pending:
                    await ws.send(frame)
            await reader
            pinger.cancel()
            self.ws = None
            self.subscribed.clear()
            if not self.stopping:
                reason = f" {ws.close_reason}" if ws.close_reason else ""
                self.tally.outcome.closes[f"{ws.close_code}{reason}"] += 1
                self.tally.outcome.reconnects += 1

    async def _open(self, gate: asyncio.Semaphore) -> tuple[ClientConnection, asyncio.Task[None]]:
        """Connect and subscribe since the last seq seen; the reader is already running."""
        async with gate:
            ws = await connect(
                self.url,
                additional_headers=self.headers,
                open_timeout=SUBSCRIBE_SECONDS,
                ping_interval=None,  # a browser sends no protocol pings, only {"op":"ping"}
                max_queue=None,  # nor does it stop reading when the page is busy
            )
            reader = asyncio.create_task(self._read(ws))
            subscribe = {"op": "subscribe", "topic": self.topic, "since": self.last_seq}
            await ws.send(json.dumps(subscribe))
            waiter = asyncio.create_task(self.subscribed.wait())
            await asyncio.wait(
                {reader, waiter}, timeout=SUBSCRIBE_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            if not self.subscribed.is_set():
                await ws.close()
                await reader
                raise TimeoutError(f"no `subscribed` for {self.topic}")
            return ws, reader

    async def _ping(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(PING_SECONDS)
                await ws.send(PING)

    async def close(self) -> None:
        self.stopping = True
        if self.ws is not None:
            await self.ws.close()

    # Sending.

    async def send_all(self, start: float, plan: Plan) -> None:
        """One message every `plan.period` from `start + offset` until the window ends."""
        end = start + plan.seconds
        due = start + self.offset
        number = 0
        while due < end - 1e-9:  # no extra send from rounding at the end
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            number += 1
            await self._send(f"{self.name}.{number}", due)
            due += plan.period

    async def _send(self, client_id: str, due: float) -> None:
        request = {"op": "send", "topic": self.topic, "client_id": client_id, "body": BODY}
        frame = json.dumps(request)
        self.unacked[client_id] = frame
        self.tally.sent(client_id, time.perf_counter(), due)
        ws = self.ws
        if ws is None:
            self.tally.outcome.held += 1  # goes out when the socket is back
            return
        with contextlib.suppress(ConnectionClosed):
            await ws.send(frame)

    # Receiving.

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in ws:
                self._receive(json.loads(text), time.perf_counter())

    def _receive(self, frame: dict[str, Any], now: float) -> None:
        op = frame.get("op")
        if op == "subscribed":
            self.subscribed.set()
        elif op == "sent":
            client_id = frame.get("client_id")
            if self.unacked.pop(client_id, None) is not None:
                self.tally.acknowledged(client_id, now)
        elif op == "error":
            self.tally.outcome.errors[str(frame.get("code"))] += 1
        elif frame.get("type") == "message.created":
            self._message(frame, now)

    def _message(self, frame: dict[str, Any], now: float) -> None:
        """Check the topic's seq runs 1, 2, 3… on this socket; time the peer's messages."""
        outcome = self.tally.outcome
        seq = frame["seq"]
        if seq in self.seen:
            outcome.duplicates += 1
            return
        if seq != self.last_seq + 1:
            outcome.out_of_order += 1
        self.seen.add(seq)
        self.last_seq = max(self.last_seq, seq)
        client_id = frame["data"].get("client_id") or ""
        if client_id.rpartition(".")[0] != self.peer:
            return  # our own message coming back, or a system message
        if client_id in self.received:
            outcome.duplicates += 1  # stored twice, under two seqs
            return
        self.received.add(client_id)
        self.tally.delivered(client_id, now)


def participants(pairs: list[Pair], plan: Plan, tally: Tally) -> list[Participant]:
    """Both sides of each pair; socket k of all sends at offset k/rate within each period,
    patients first and doctors after, so the two sides of a consultation alternate."""
    count = plan.sockets // 2
    made = []
    for pair in pairs:
        patient, doctor = f"p{pair.index}", f"d{pair.index}"
        sides = (
            (patient, doctor, pair.patient_url, pair.patient_headers, pair.index),
            (doctor, patient, pair.doctor_url, pair.doctor_headers, count + pair.index),
        )
        for name, peer, url, headers, position in sides:
            made.append(
                Participant(
                    name=name,
                    peer=peer,
                    topic=pair.topic,
                    url=url,
                    headers=headers,
                    offset=(position / plan.rate) % plan.period,
                    tally=tally,
                )
            )
    return made


async def wait_until(condition: Callable[[], bool], seconds: float) -> None:
    """Poll: the conditions here are counts that many tasks move, not one event."""
    for _ in range(int(seconds * 10)):
        if condition():
            return
        await asyncio.sleep(0.1)


async def drive(pairs: list[Pair], plan: Plan, ready: Any, go: Any, start_at: Any) -> Outcome:
    """Open every socket, report ready, send from the shared start, drain, close."""
    tally = Tally()
    people = participants(pairs, plan, tally)
    tally.outcome.sockets = len(people)
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    keepers = [asyncio.create_task(person.keep_open(gate)) for person in people]
    await wait_until(lambda: all(p.subscribed.is_set() for p in people), OPEN_SECONDS)
    tally.outcome.sockets_up = sum(p.subscribed.is_set() for p in people)
    ready.put(len(people))
    await asyncio.to_thread(go.wait)

    start = tally.start = start_at.value
    tally.window_end = start + plan.seconds
    await asyncio.sleep(start - time.perf_counter())
    cpu = time.process_time()
    await asyncio.gather(*(person.send_all(start, plan) for person in people))
    tally.outcome.client_cpu = time.process_time() - cpu
    await wait_until(lambda: tally.outstanding == 0, plan.drain)

    await asyncio.gather(*(person.close() for person in people))
    _done, stuck = await asyncio.wait(keepers, timeout=10)
    for keeper in stuck:
        keeper.cancel()
    return tally.finish()


def client_process(
    pairs: list[Pair], plan: Plan, ready: Any, go: Any, start_at: Any, results: Any
) -> None:
    """Entry point of one client process."""
    results.put(run_async(drive(pairs, plan, ready, go, start_at)))


# --- the load: all client processes ----------------------------------------------------------


def run_load(pairs: list[Pair], plan: Plan, processes: int) -> Outcome:
    """Split the consultations over client processes, start them together, merge results.

    The start time is a `time.perf_counter()` value: CLOCK_MONOTONIC on Linux, the same
    clock in every process. Latency is taken within one process in any case.
    """
    background = busy_cores([])
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    go = context.Event()
    start_at = context.Value("d", 0.0)
    shares = [pairs[n::processes] for n in range(processes) if pairs[n::processes]]
    workers = [
        context.Process(target=client_process, args=(share, plan, ready, go, start_at, results))
        for share in shares
    ]
    for worker in workers:
        worker.start()
    outcome = Outcome(background=background)
    try:
        for _ in workers:
            ready.get(timeout=OPEN_SECONDS + 60)
        start = start_at.value = time.perf_counter() + 1.0
        go.set()
        servers = server_pids()
        time.sleep(start - time.perf_counter())
        machine, served = cpu_seconds(servers)
        time.sleep(start + plan.seconds - time.perf_counter())
        machine_after, served_after = cpu_seconds(servers)
        outcome.machine_cpu = machine_after - machine
        outcome.server_cpu = served_after - served
        for _ in workers:
            outcome.merge(results.get(timeout=plan.seconds + plan.drain + 120))
        # PostgreSQL and Redis may still be working off our servers' backlog: not "other".
        outcome.background_after = busy_cores(servers + processes_named(DATABASES))
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
    return outcome


def server_pids() -> list[int]:
    """The servers this benchmark started: its children running `serve` or `--bare-server`
    (the client processes are children too, started by multiprocessing's spawn)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == os.getpid() and b"serve" in command:
            pids.append(int(entry.name))
    return pids


def processes_named(names: set[str]) -> list[int]:
    """Every process whose command name is one of `names` (whoever else uses them too)."""
    pids = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and (entry / "comm").read_text().strip() in names:
                pids.append(int(entry.name))
    return pids


def busy_cores(ours: list[int], seconds: float = 2.0) -> float:
    """How many cores the machine keeps busy for `seconds`, less what `ours` use."""
    machine, used = cpu_seconds(ours)
    time.sleep(seconds)
    machine_after, used_after = cpu_seconds(ours)
    return (machine_after - machine - (used_after - used)) / seconds


def cpu_seconds(pids: list[int]) -> tuple[float, float]:
    """(core-seconds the machine has been busy, core-seconds `pids` have used), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    used = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            after_name = (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2]
            used += sum(int(n) for n in after_name.split()[11:13])  # utime, stime
    return (sum(fields[:8]) - idle) / tick, used / tick


# --- seeding clinicflow ----------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    id: str
    headers: dict[str, str]


def expect_ok(response: httpx.Response) -> dict[str, Any]:
    if response.is_error:
        request = response.request
        raise RuntimeError(
            f"{request.method} {request.url.path}: {response.status_code} {response.text[:300]}"
        )
    body: dict[str, Any] = response.json()
    return body


def account(tokens: dict[str, Any]) -> Account:
    return Account(
        id=tokens["user"]["id"], headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )


async def seed_staff(database_url: str, var_dir: str, roles: list[str]) -> list[str]:
    """Staff accounts (doctors in UTC) straight through the service layer (the CLI takes a
    second or two per user); returns their emails, in the order of `roles`."""
    from clinicflow.config import Settings
    from clinicflow.identity import service as identity
    from clinicflow.identity.schemas import Role
    from clinicflow.runtime import build_runtime

    tag = secrets.token_hex(4)
    emails = [f"bench-{role}-{n}-{tag}@clinic.example.com" for n, role in enumerate(roles)]
    runtime = build_runtime(
        Settings(env="development", database_url=database_url, var_dir=Path(var_dir))
    )
    try:
        async with runtime.transaction() as session:
            for n, (role, email) in enumerate(zip(roles, emails, strict=True)):
                doctor = role == Role.doctor.value
                await identity.create_user(
                    session=session,
                    actor=None,
                    role=Role(role),
                    name=f"Dr Bench {n}" if doctor else f"Bench {role} {n}",
                    email=email,
                    password=PASSWORD,
                    profile={"timezone": "UTC"} if doctor else None,
                )
    finally:
        await runtime.close()
    return emails


async def log_in(http: httpx.AsyncClient, email: str) -> Account:
    response = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    return account(expect_ok(response))


async def sign_in_patient(http: httpx.AsyncClient, phone: str, name: str) -> Account:
    """A new patient by phone code, as the sign-in page does it; the code comes from the
    development outbox, read at once because it keeps only the newest 200 messages."""
    expect_ok(await http.post("/api/auth/otp/request", json={"phone": phone}))
    outbox = (await http.get("/dev/outbox.json")).json()
    text = next(message["body"] for message in outbox if message["to"] == phone)
    code = next(
        word for word in text.replace(".", " ").split() if len(word) == 6 and word.isdigit()
    )
    verify = {"phone": phone, "code": code, "name": name}
    return account(expect_ok(await http.post("/api/auth/otp/verify", json=verify)))


async def start_consultation(http: httpx.AsyncClient, patient: Account, doctor: Account) -> str:
    """The patient asks for a chat, the doctor accepts: the consultation is active."""
    body = {
        "doctor_id": doctor.id,
        "problem": "Fever and a dry cough for three days",
        "type": "chat",
    }
    consultation = expect_ok(
        await http.post("/api/consultations", json=body, headers=patient.headers)
    )
    consultation_id = str(consultation["id"])
    accept = f"/api/consultations/{consultation_id}/accept"
    expect_ok(await http.post(accept, headers=doctor.headers))
    return consultation_id


async def open_consultations(
    url: str, doctor_emails: list[str], count: int
) -> list[tuple[str, Account, Account]]:
    """`count` active consultations: (id, patient, doctor), doctors taking turns."""
    gate = asyncio.Semaphore(SEED_AT_ONCE)
    # Kenyan mobiles 710 000 000-728 999 999: the phone rules refuse made-up lengths.
    first = 710_000_000 + secrets.randbelow(190) * 100_000

    async with httpx.AsyncClient(base_url=url, timeout=120) as http:

        async def limited(work: Coroutine[Any, Any, T]) -> T:
            async with gate:
                return await work

        doctors = await asyncio.gather(*(limited(log_in(http, e)) for e in doctor_emails))
        patients = await asyncio.gather(
            *(
                limited(sign_in_patient(http, f"+254{first + n}", f"Patient {n}"))
                for n in range(count)
            )
        )
        pairs = [(patient, doctors[n % len(doctors)]) for n, patient in enumerate(patients)]
        ids = await asyncio.gather(*(limited(start_consultation(http, p, d)) for p, d in pairs))
    return [(cid, p, d) for cid, (p, d) in zip(ids, pairs, strict=True)]


# --- one server ------------------------------------------------------------------------------


def plan_of(args: argparse.Namespace) -> Plan:
    return Plan(
        rate=args.rate, seconds=args.seconds, sockets=2 * args.consultations, drain=args.drain
    )


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/ws"


def run_bare(args: argparse.Namespace) -> Outcome:
    plan = plan_of(args)
    with bare_server() as url:
        pairs = [
            Pair(index=n, topic=f"consultation:{uuid.uuid4()}", patient_url=url, doctor_url=url)
            for n in range(args.consultations)
        ]
        return run_load(pairs, plan, args.client_processes)


def run_clinicflow(
    args: argparse.Namespace, database_url: str, redis_url: str | None, servers: int
) -> Outcome:
    """Migrate and seed a fresh database, serve it with `servers` processes, drive the load:
    patients' sockets on the first process, doctors' on the last."""
    plan = plan_of(args)
    with tempfile.TemporaryDirectory() as var_dir:
        env = harness.environment(database_url, var_dir)
        env["OTP_REQUESTS_PER_PHONE_PER_HOUR"] = str(max(5, args.consultations))
        env["PYTHONUNBUFFERED"] = "1"  # the log must be complete when the server is stopped
        if redis_url:
            env["REDIS_URL"] = redis_url
        harness.migrate(env)
        began = time.perf_counter()
        doctor_emails = asyncio.run(seed_staff(database_url, var_dir, ["doctor"] * args.doctors))
        log_dir = Path(tempfile.mkdtemp(prefix="clinicflow-bench-chat-"))
        logs = [log_dir / f"server-{n}.log" for n in range(servers)]
        try:
            with contextlib.ExitStack() as stack:
                urls = [
                    stack.enter_context(harness.serving(env, stack.enter_context(log.open("wb"))))
                    for log in logs
                ]
                consultations = asyncio.run(
                    open_consultations(urls[0], doctor_emails, args.consultations)
                )
                print(
                    f"  seeded {args.doctors} doctors and {len(consultations)} active consultations "
                    f"in {time.perf_counter() - began:.1f} s"
                )
                pairs = [
                    Pair(
                        index=n,
                        topic=f"consultation:{cid}",
                        patient_url=ws_url(urls[0]),
                        doctor_url=ws_url(urls[-1]),
                        patient_headers=patient.headers,
                        doctor_headers=doctor.headers,
                    )
                    for n, (cid, patient, doctor) in enumerate(consultations)
                ]
                outcome = run_load(pairs, plan, args.client_processes)
        finally:
            for log in logs:
                report_log(log)
    return outcome


def run_sqlite(args: argparse.Namespace) -> Outcome:
    with tempfile.TemporaryDirectory() as scratch:
        return run_clinicflow(args, f"sqlite+aiosqlite:///{scratch}/bench.db", None, servers=1)


def flush_redis(url: str) -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        with Redis.from_url(url) as redis:
            redis.flushdb()
    except RedisError as exc:
        print(f"Redis at {url} skipped: {type(exc).__name__}: {exc}".splitlines()[0])
        return False
    return True


def run_postgres(args: argparse.Namespace) -> Outcome | None:
    if not flush_redis(args.redis_url):
        return None
    name = asyncio.run(create_database(DEFAULT_POSTGRES))
    if name is None:
        return None
    try:
        return run_clinicflow(args, f"{DEFAULT_POSTGRES}/{name}", args.redis_url, servers=2)
    finally:
        asyncio.run(drop_database(DEFAULT_POSTGRES, name))
        flush_redis(args.redis_url)


# --- reporting -------------------------------------------------------------------------------


def report_timeline(outcome: Outcome) -> None:
    """Latency by the second a message was sent: a pause of the whole server shows as one
    bad second, a queue building up as a run of growing ones."""
    by_second: defaultdict[int, list[float]] = defaultdict(list)
    for second, latency in outcome.timeline:
        by_second[second].append(latency)
    print("  second   messages      p50 ms      p99 ms      max ms")
    for second, latencies in sorted(by_second.items()):
        print(
            f"  {second:6d} {len(latencies):10d} {harness.percentile(latencies, 0.5):11.1f} "
            f"{harness.percentile(latencies, 0.99):11.1f} {max(latencies):11.1f}"
        )


def report(outcome: Outcome, plan: Plan) -> None:
    seconds = plan.seconds
    print(
        f"  sockets        {outcome.sockets_up}/{outcome.sockets} subscribed, "
        f"target {plan.rate:.0f} msg/s for {seconds:.0f} s"
    )
    if not outcome.latency_ms:
        print("  nothing was delivered")
        return
    lag = harness.percentile(outcome.lag_ms, 0.99)
    print(
        f"  sent           {outcome.sent / seconds:8.1f} msg/s   ({outcome.sent} messages; "
        f"generator lag p99 {lag:.1f} ms; {outcome.held} held while reconnecting)"
    )
    print(
        f"  delivered      {outcome.delivered_in_window / seconds:8.1f} msg/s   "
        f"({outcome.delivered} delivered to the other participant in all)"
    )
    ms = outcome.latency_ms
    rest = max(0.0, outcome.machine_cpu - outcome.server_cpu - outcome.client_cpu)
    print(
        f"  latency        p50 {harness.percentile(ms, 0.50):7.1f} ms   "
        f"p95 {harness.percentile(ms, 0.95):7.1f} ms   p99 {harness.percentile(ms, 0.99):7.1f} ms"
        f"   max {max(ms):7.1f} ms"
    )
    if outcome.slow:
        when = sorted(outcome.slow.items())
        where = (
            ", ".join(f"{second}s x{count}" for second, count in when)
            if len(when) <= 8
            else f"{len(when)} different seconds"
        )
        print(
            f"  over {TARGET_P99_MS:.0f} ms    {outcome.slow.total()} messages, sent in "
            f"(second of the window x messages) {where}"
        )
    print(
        f"  cpu            {outcome.machine_cpu / seconds:.2f} of {os.cpu_count()} cores busy: "
        f"server {outcome.server_cpu / seconds:.2f}, clients {outcome.client_cpu / seconds:.2f}, "
        f"the rest (database, Redis, kernel, other) {rest / seconds:.2f}"
    )
    print(
        f"  other load     {outcome.background:.2f} cores busy before the run, "
        f"{outcome.background_after:.2f} after it (besides our servers, PostgreSQL and Redis)"
        + ("   DISTURBED: other work shared the cores" if disturbed(outcome) else "")
    )
    ack = harness.percentile(outcome.ack_ms, 0.99) if outcome.ack_ms else float("nan")
    print(f"  acknowledged   {outcome.acked} (`sent`), p99 {ack:.1f} ms after sending")
    print(
        f"  missing {outcome.missing}   duplicates {outcome.duplicates}   "
        f"out of order {outcome.out_of_order}"
    )
    if outcome.missing:
        print(
            f"  of the missing, {outcome.missing_acked} were acknowledged (stored, then not "
            f"delivered) and {outcome.missing - outcome.missing_acked} never were (still "
            f"queued in the server when the {plan.drain:.0f} s drain ended)"
        )
    print(
        f"  errors {describe(outcome.errors)}   closes {describe(outcome.closes)}   "
        f"reconnects {outcome.reconnects}"
    )


def disturbed(outcome: Outcome) -> bool:
    return max(outcome.background, outcome.background_after) > DISTURBED_CORES


def describe(counts: Counter[str]) -> str:
    return ", ".join(f"{n} x {what}" for what, n in counts.most_common()) or "none"


def report_log(path: Path) -> None:
    """Count what the server logged as a warning or an error, and its tracebacks by where
    in clinicflow they were raised; the whole log stays at `path`."""
    text = ANSI.sub("", path.read_text(errors="replace"))
    events = Counter(f"{match[1]} {match[2]}" for match in LOGGED.finditer(text))
    tracebacks = Counter(traceback_site(block) for block in text.split("Traceback")[1:])
    if not events and not tracebacks:
        return
    print(f"  {path}: {events.total()} warnings or errors logged, {tracebacks.total()} tracebacks")
    for what, count in [*events.most_common(8), *tracebacks.most_common(8)]:
        print(f"    {count:5d} x {what}")


def traceback_site(block: str) -> str:
    """`a.py:f > b.py:g: SomeError: …` for one traceback: its innermost clinicflow frames
    and the exception it ended with."""
    frames = FRAME.findall(block)[-3:]
    ending = next((line for line in block.splitlines()[1:] if line and not line[0].isspace()), "?")
    return " > ".join(f"{file}:{function}" for file, function in frames) + f": {ending[:110]}"


def report_ratios(results: dict[str, Outcome], seconds: float) -> None:
    bare = results.get("bare")
    if bare is None or not bare.latency_ms:
        return
    bare_rate = bare.delivered_in_window / seconds
    bare_p99 = harness.percentile(bare.latency_ms, 0.99)
    print("\nclinicflow against the bare websockets server (ours / bare)")
    for label, outcome in results.items():
        if label == "bare" or not outcome.latency_ms:
            continue
        rate = outcome.delivered_in_window / seconds
        p99 = harness.percentile(outcome.latency_ms, 0.99)
        print(
            f"  {label:<16} delivered/s {rate / bare_rate:5.2f}x   p99 {p99 / bare_p99:6.1f}x   "
            f"({rate:.0f} vs {bare_rate:.0f} msg/s, {p99:.1f} vs {bare_p99:.1f} ms)"
        )


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consultations", type=int, default=500)
    parser.add_argument("--rate", type=float, default=1000, help="messages a second in all")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--drain", type=float, default=10, help="seconds to wait for stragglers")
    parser.add_argument("--doctors", type=int, default=50)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--timeline", action="store_true", help="latency by the second each message was sent"
    )
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--redis-url", default=REDIS_URL, help="a Redis db the run may flush (default: db 9)"
    )
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        serve_bare(args.bare_server)
        return

    plan = plan_of(args)
    runs = {
        "bare": ("bare websockets broadcast server, 1 process", args.skip_bare, run_bare),
        "sqlite": ("clinicflow on SQLite, 1 server process", args.skip_sqlite, run_sqlite),
        "postgres+redis": (
            "clinicflow on PostgreSQL + Redis, 2 server processes",
            args.skip_postgres,
            run_postgres,
        ),
    }
    results: dict[str, Outcome] = {}
    for label, (title, skipped, run) in runs.items():
        if skipped:
            continue
        print(
            f"\n{title}: {args.consultations} consultations, {plan.sockets} sockets, "
            f"{args.client_processes} client processes"
        )
        outcome = run(args)
        if outcome is not None:
            report(outcome, plan)
            if args.timeline:
                report_timeline(outcome)
            results[label] = outcome
    report_ratios(results, args.seconds)


if __name__ == "__main__":
    main()
