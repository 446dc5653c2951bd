"""A Redis outage breaks nothing it need not, and loses nothing.

Two apps (each its own runtime, broker and hub: two "processes" as far as Redis can tell)
share the test's database and a redis-server this test owns, each served by a real
uvicorn. Redis is killed while clients chat, sign in, book and use the queue, then started
again on the same port. Runs on SQLite and on PostgreSQL; skipped only without
`redis-server`.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from clinicflow.app import create_app
from clinicflow.config import Settings
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.core.clock import FrozenClock
from clinicflow.core.outages import Outage
from clinicflow.core.ratelimit import RedisRateLimiter
from clinicflow.identity.schemas import Role
from clinicflow.realtime.broker import RedisBroker
from clinicflow.realtime.events import Event
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic, Person
from tests.factories import PASSWORD, Accounts, latest_code
from tests.queue.clinic import TODAY, QueueClinic
from tests.realtime.conftest import Server, Socket, connect, serving
from tests.scheduling.clinic import TUESDAY_9

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server")

# Long enough for the listener's backoff (at most 5 s) and a resync after Redis returns.
AFTER_RETURN_SECONDS = 20.0


class OwnRedis:
    """A redis-server of the test's own, to kill and start again on the same port."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        self._process = subprocess.Popen(
            [*command, "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    redis = OwnRedis()
    redis.start()
    try:
        yield redis
    finally:
        redis.kill()


@pytest.fixture
def settings(settings: Settings, own_redis: OwnRedis) -> Settings:
    return settings.model_copy(
        update={"redis_url": own_redis.url, "otp_requests_per_phone_per_hour": 50}
    )


@pytest.fixture
async def second_app(settings: Settings, app: FastAPI) -> AsyncIterator[FastAPI]:
    """A second process's app: its own runtime, broker and hub, the same database and Redis."""
    application = create_app(settings)
    yield application
    await application.state.runtime.close()


class Answers:
    """Every HTTP answer a test got, to say that none was a 500."""

    def __init__(self) -> None:
        self.statuses: list[tuple[str, int]] = []

    async def call(self, server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
            response = await http.request(method, path, **kwargs)
        self.statuses.append((path, response.status_code))
        assert response.status_code < 500, (path, response.status_code, response.text)
        return response


async def messages_until(socket: Socket, seq: int, seen: list[int]) -> None:
    """Read `message.created` frames into `seen` until `seq` has arrived."""
    async with asyncio.timeout(AFTER_RETURN_SECONDS):
        while not seen or seen[-1] < seq:
            frame = await socket.receive(AFTER_RETURN_SECONDS)
            if frame.get("type") == "message.created":
                seen.append(frame["seq"])


async def send(socket: Socket, topic: str, body: str, seen: list[int]) -> int:
    """Send over the socket; the seq of the stored message, from the `sent` answer. The
    messages that arrive meanwhile (the sender's own among them) go into `seen`."""
    client_id = f"c-{body}"
    await socket.send(op="send", topic=topic, client_id=client_id, body=body)
    async with asyncio.timeout(AFTER_RETURN_SECONDS):
        while True:
            frame = await socket.receive(AFTER_RETURN_SECONDS)
            if frame.get("type") == "message.created":
                seen.append(frame["seq"])
            elif frame.get("client_id") == client_id and frame.get("op") in ("sent", "error"):
                assert frame["op"] == "sent", frame
                seq: int = frame["message"]["seq"]
                return seq


async def test_chat_sign_in_booking_and_queue_through_a_redis_outage(
    app: FastAPI,
    second_app: FastAPI,
    own_redis: OwnRedis,
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    frozen_clock: FrozenClock,
) -> None:
    queue_clinic = QueueClinic(client, accounts, runtime)
    doctor_user, doctor_headers = await queue_clinic.doctor()
    doctor = Person(doctor_user, doctor_headers)
    chat = Clinic(client, accounts, runtime)
    patient = await chat.patient()
    consultation = await chat.consultation(patient, doctor, ConsultationStatus.active)
    desk = await queue_clinic.front_desk()
    receptionist = await accounts.make(Role.receptionist)
    topic = f"consultation:{consultation.id}"
    queue_topic = f"queue:{doctor.id}:{TODAY}"
    answers = Answers()

    async with serving(app) as first, serving(second_app) as second:
        doctor_socket = await connect(first, doctor.headers)
        patient_socket = await connect(second, patient.headers)
        earlier = [e["seq"] for e in await doctor_socket.subscribe(topic)]
        assert [e["seq"] for e in await patient_socket.subscribe(topic)] == earlier
        base = earlier[-1] if earlier else 0  # accepting the consultation may have said so
        desk_here = await connect(first, desk)
        desk_there = await connect(second, desk)
        assert [e["type"] for e in await desk_here.subscribe(queue_topic)] == ["queue.snapshot"]
        assert [e["type"] for e in await desk_there.subscribe(queue_topic)] == ["queue.snapshot"]
        doctor_seen: list[int] = []
        patient_seen: list[int] = []

        assert await send(doctor_socket, topic, "before", doctor_seen) == base + 1
        await messages_until(doctor_socket, base + 1, doctor_seen)
        await messages_until(patient_socket, base + 1, patient_seen)

        own_redis.kill()

        # Chat on both processes: the patient on the second, then the doctor on the first;
        # each sees its own messages at once (local delivery does not need Redis).
        assert await send(patient_socket, topic, "patient-during", patient_seen) == base + 2
        await messages_until(patient_socket, base + 2, patient_seen)
        assert await send(doctor_socket, topic, "doctor-during-1", doctor_seen) == base + 3
        assert await send(doctor_socket, topic, "doctor-during-2", doctor_seen) == base + 4
        await messages_until(doctor_socket, base + 4, doctor_seen)

        # A new subscription works, and catches up from the database.
        second_tab = await connect(first, doctor.headers)
        assert [e["seq"] for e in await second_tab.subscribe(topic)] == [
            *earlier,
            *range(base + 1, base + 5),
        ]

        # Sign-in (password and phone code) on both processes: fine, or 503 with a hint.
        for server in (first, second):
            signed = await answers.call(
                server,
                "POST",
                "/api/auth/login",
                json={"email": receptionist.email, "password": PASSWORD},
            )
            assert signed.status_code == 200 or (
                signed.status_code == 503 and signed.headers.get("Retry-After")
            ), signed.text
        assert patient.user.phone
        asked = await answers.call(
            first, "POST", "/api/auth/otp/request", json={"phone": patient.user.phone}
        )
        assert asked.status_code == 202, asked.text
        code = latest_code(runtime, patient.user.phone)
        verified = await answers.call(
            first,
            "POST",
            "/api/auth/otp/verify",
            json={"phone": patient.user.phone, "code": code},
        )
        assert verified.status_code == 200, verified.text

        # Booking and the queue on the first process.
        booked = await answers.call(
            first,
            "POST",
            "/api/appointments",
            json={
                "doctor_id": str(doctor.id),
                "starts_at": TUESDAY_9,
                "mode": "in_person",
                "reason": "Cough",
            },
            headers=patient.headers,
        )
        assert booked.status_code == 201, booked.text
        walked_in = await answers.call(
            first,
            "POST",
            "/api/queue/walk-in",
            json={"doctor_id": str(doctor.id), "phone": "+254733999001", "name": "Walk In"},
            headers=desk,
        )
        assert walked_in.status_code == 201, walked_in.text
        token = walked_in.json()["token"]
        updated = await desk_here.until(lambda f: f.get("type") == "queue.updated")
        assert token in updated["data"]["order"]

        # The doctor's messages told the patient, whom the first process could not see
        # present (presence is this process's own while Redis is down): unknown is away.
        notes = await answers.call(first, "GET", "/api/notifications", headers=patient.headers)
        assert "chat_message" in [item["type"] for item in notes.json()["items"]]

        own_redis.start()

        # What the second process missed arrives once, in order, without a later message.
        await messages_until(patient_socket, base + 4, patient_seen)
        assert patient_seen == list(range(base + 1, base + 5))
        # The queue follower there gets the state it missed as a fresh snapshot.
        snapshot = await desk_there.until(
            lambda f: f.get("type") in ("queue.snapshot", "queue.updated"),
            wait=AFTER_RETURN_SECONDS,
        )
        assert token in snapshot["data"]["order"]

        # And live delivery across processes works again.
        assert await send(doctor_socket, topic, "after", doctor_seen) == base + 5
        await messages_until(patient_socket, base + 5, patient_seen)
        await messages_until(doctor_socket, base + 5, doctor_seen)
        assert patient_seen == list(range(base + 1, base + 6))
        assert doctor_seen == list(range(base + 1, base + 6))
        # Nothing arrives twice afterwards either.
        await asyncio.sleep(0.5)
        for socket_ in (patient_socket, doctor_socket):
            with pytest.raises(TimeoutError):
                await socket_.until(lambda f: f.get("type") == "message.created", wait=0.5)

        for opened in (doctor_socket, patient_socket, desk_here, desk_there, second_tab):
            await opened.close()
    assert all(status < 500 for _, status in answers.statuses)


def fail_fast(url: str) -> Redis:
    """A client configured as the runtime's: one immediate retry, a short connect timeout."""
    return Redis.from_url(url, retry=Retry(NoBackoff(), 1), socket_connect_timeout=2)


async def test_rate_limits_count_in_memory_while_redis_is_down(
    own_redis: OwnRedis, frozen_clock: FrozenClock
) -> None:
    """Fail closed: with Redis down every budget is still spent and refused past its
    limit (in this process's memory); once Redis answers, Redis counts again."""
    redis = fail_fast(own_redis.url)
    limiter = RedisRateLimiter(redis, outage=Outage("redis", probe_seconds=0.0))
    try:
        assert [(await limiter.hit("login:ip:x", 60))[0] for _ in range(2)] == [1, 2]
        own_redis.kill()
        with structlog.testing.capture_logs() as logs:
            during = [(await limiter.hit("login:ip:x", 60))[0] for _ in range(3)]
            await limiter.release("login:ip:x", 60)
            await limiter.clear("login:other", 60)
        assert during == [1, 2, 3]  # counted: a limit of 2 would refuse the third
        assert [entry["event"] for entry in logs if entry["log_level"] == "warning"] == [
            "redis.lost"
        ]
        own_redis.start()
        assert (await limiter.hit("login:ip:x", 60))[0] == 1  # a fresh Redis, counting again
        assert int(await redis.get(next(iter(await redis.keys("clinicflow:rl:login:ip:x*"))))) == 1
    finally:
        await redis.aclose()


class Heard:
    """What a broker handed its hub: events, and resync requests."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.resyncs: list[set[str] | None] = []
        self._changed = asyncio.Event()

    def deliver(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def resync(self, topics: Any) -> None:
        self.resyncs.append(None if topics is None else set(topics))
        self._changed.set()

    async def until(self, condition: Any) -> None:
        async with asyncio.timeout(AFTER_RETURN_SECONDS):
            while not condition():
                self._changed.clear()
                await self._changed.wait()


async def test_the_broker_delivers_here_warns_once_and_announces_what_others_missed(
    own_redis: OwnRedis,
) -> None:
    channel = "clinicflow:test:events"
    clients = [fail_fast(own_redis.url), fail_fast(own_redis.url)]
    here, there = Heard(), Heard()
    brokers = [
        RedisBroker(client, channel=channel, presence_ttl=30, outage=Outage("redis"))
        for client in clients
    ]
    brokers[0].attach(here.deliver, here.resync)
    brokers[1].attach(there.deliver, there.resync)
    try:
        for broker in brokers:
            await broker.start()
        hello = Event(topic="consultation:a", type="message.created", data={}, seq=1)
        await brokers[0].publish([hello])
        await there.until(lambda: len(there.events) == 1)
        assert here.events == [hello]  # once: its own echo from Redis is skipped

        own_redis.kill()
        with structlog.testing.capture_logs() as logs:
            during = Event(topic="consultation:b", type="message.created", data={}, seq=2)
            for _ in range(20):
                await brokers[0].publish([during])
            await brokers[0].presence.join("presence:b", "patient", "tab")
            assert await brokers[0].presence.users_of(["presence:b"]) == {"presence:b": {"patient"}}
            await asyncio.sleep(2.0)  # the listeners retry several times meanwhile
        warnings = [entry for entry in logs if entry["log_level"] == "warning"]
        assert [entry["event"] for entry in warnings] == ["redis.lost", "redis.lost"]  # one each
        assert here.events[1:] == [during] * 20  # local delivery went on
        assert len(there.events) == 1

        own_redis.start()
        # The second process is told to read consultation:b from the database: by its own
        # listener's resync of everything on coming back, or by the first one's notice
        # naming the topic (which it misses if it was not yet subscribed again).
        await there.until(
            lambda: any(topics is None or "consultation:b" in topics for topics in there.resyncs)
        )
        assert len(there.events) == 1  # the missed events come from the database, not Redis
        await here.until(lambda: None in here.resyncs)
        after = Event(topic="consultation:b", type="message.created", data={}, seq=3)
        await brokers[0].publish([after])
        await there.until(lambda: there.events[-1] == after)
    finally:
        for broker in brokers:
            await broker.close()
        for client in clients:
            await client.aclose()
