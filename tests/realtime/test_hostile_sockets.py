"""What a hostile or broken client cannot do to the server: frames built to crash the
parser or overflow the database answer error frames and the socket goes on; a client
that stops reading is closed within the stall bound; one that drops mid catch-up leaves
no handler behind, so its memory goes and the server still stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket as sockets
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from clinicflow.app import create_app
from clinicflow.config import Settings
from clinicflow.consultations import service as consultations
from clinicflow.consultations.models import Consultation
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.runtime import Runtime
from tests.conftest import TEST_REDIS_URL
from tests.consultations.clinic import Clinic, Person
from tests.realtime.conftest import Server, _free_port, _wait_healthy, connect, serving

DEEP = 30_000
BODY = "x" * 3_900


async def long_conversation(
    clinic: Clinic, runtime: Runtime, messages: int
) -> tuple[Person, Consultation]:
    """An active consultation with `messages` messages from its doctor, stored through
    the service the socket's own sends use, 200 to a transaction."""
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    for start in range(0, messages, 200):
        async with runtime.transaction() as session:
            stored = await consultations.send_messages(
                session,
                [
                    consultations.Outgoing(doctor.user, consultation.id, f"m{n}", f"{n} {BODY}")
                    for n in range(start, min(start + 200, messages))
                ],
            )
        assert not [answer for answer in stored if isinstance(answer, Exception)]
    return patient, consultation


async def never_reading(server: Server, headers: dict[str, str]) -> ClientConnection:
    """A client that stops reading at once: a tiny receive buffer and a one-frame queue,
    so the server's sends soon wait for it (a phone that lost signal, in effect)."""
    raw = sockets.socket(sockets.AF_INET, sockets.SOCK_STREAM)
    raw.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", server.port))
    return await websockets.connect(
        server.ws_url,
        sock=raw,
        additional_headers=headers,
        open_timeout=5,
        max_queue=1,
        ping_interval=None,
        # Compressed, the repetitive bodies would fit the network's buffers.
        compression=None,
    )


async def eventually(condition: Callable[[], bool], seconds: float) -> None:
    """Wait until `condition` holds (a bound, not a measurement: it fails only if never)."""
    async with asyncio.timeout(seconds):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)


async def read_to_the_end(connection: ClientConnection) -> None:
    while True:
        await connection.recv()


# --- hostile frames ----------------------------------------------------------------------


async def test_hostile_frames_answer_error_frames_and_the_socket_goes_on(
    server: Server, clinic: Clinic, caplog: pytest.LogCaptureFixture
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    topic = f"consultation:{consultation.id}"
    socket = await connect(server, headers=patient.headers)
    caplog.set_level(logging.WARNING)

    nested = "[" * DEEP + "]" * DEEP
    for frame in (
        nested,
        '{"op":"subscribe","topic":"' + topic + '","since":' + nested + "}",
        '{"op":' + "{" * 1000 + "}" * 1000 + "}",
    ):
        await socket.connection.send(frame)
        assert (await socket.receive())["code"] == "bad_frame"

    for since in (10**30, 2**31, -1, True, "3", 1.5, 2**64, -(10**30), [1]):
        await socket.send(op="subscribe", topic=topic, since=since)
        reply = await socket.receive()
        assert reply["op"] == "error", (since, reply)
        assert reply["code"] == "bad_frame"
        assert reply["topic"] == topic

    # A client id that is not a short string is never echoed (encoding it was the cost).
    await socket.send(op="send", topic=topic, client_id=[[[[1]]]], body="hello")
    refused = await socket.receive()
    assert refused["code"] == "validation_error"
    assert refused["client_id"] is None
    await socket.send(op=["subscribe"], topic=topic)
    assert (await socket.receive())["code"] == "bad_frame"

    # Still the same socket, still working: the largest seq there can be is a fine `since`.
    await socket.send(op="ping")
    assert await socket.receive() == {"op": "pong"}
    assert await socket.subscribe(topic, since=2**31 - 1) == []
    await socket.send(op="send", topic=topic, client_id="after", body="still here")
    sent = await socket.until(lambda frame: frame.get("op") == "sent")
    assert sent["client_id"] == "after"
    await socket.close()
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []


async def test_polling_refuses_a_since_past_the_largest_seq(
    clinic: Clinic, client: httpx.AsyncClient
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    topic = f"consultation:{consultation.id}"
    for since in (2**31, 10**30):
        polled = await client.get(
            "/api/events", params={"topic": topic, "since": since}, headers=patient.headers
        )
        assert polled.status_code == 422, polled.text
    largest = await client.get(
        "/api/events", params={"topic": topic, "since": 2**31 - 1}, headers=patient.headers
    )
    assert largest.status_code == 200
    assert largest.json() == {"events": [], "seq": 2**31 - 1}


# --- clients that stop reading -----------------------------------------------------------


@pytest.fixture
async def impatient(settings: Settings) -> AsyncIterator[tuple[Server, Runtime]]:
    """A server that closes a socket whose send made no progress for half a second."""
    app = create_app(settings.model_copy(update={"ws_send_stall_seconds": 0.5}))
    try:
        async with serving(app) as server:
            yield server, app.state.runtime
    finally:
        await app.state.runtime.close()


async def test_a_socket_that_never_reads_is_closed_within_the_stall_bound(
    impatient: tuple[Server, Runtime], clinic: Clinic, runtime: Runtime
) -> None:
    server, served = impatient
    patient, consultation = await long_conversation(clinic, runtime, 2_000)
    stuck = await never_reading(server, patient.headers)
    await stuck.send(
        json.dumps({"op": "subscribe", "topic": f"consultation:{consultation.id}", "since": 0})
    )
    await eventually(lambda: served.hub.open_sockets == 1, 5)
    # Closed by the server (the stall bound, then a close frame it cannot send, then the
    # connection dropped), well before the socket's 30 s idle limit.
    await eventually(lambda: served.hub.open_sockets == 0, 20)
    # What reached the client before the drop is there, then the connection ends with no
    # close frame: it was dropped, not closed politely.
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(read_to_the_end(stuck), 20)
    assert closed.value.rcvd is None

    # A client that reads is not a stalled one: it gets the whole conversation.
    reader = await connect(server, headers=patient.headers)
    events = await reader.subscribe(f"consultation:{consultation.id}", since=0)
    seqs = [event["seq"] for event in events]
    assert seqs == list(range(1, consultation.last_seq + 2_001))
    await reader.close()


# --- a catch-up dropped mid-way, in a server process of its own ---------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def settled_rss(pid: int) -> int:
    """The process's resident size once it has stopped moving (it may still be freeing)."""
    last = rss_kib(pid)
    for _ in range(40):
        await asyncio.sleep(0.25)
        now = rss_kib(pid)
        if abs(now - last) < 256:
            return now
        last = now
    return last


@pytest.fixture
async def served_process(
    settings: Settings, database_url: str, clean_db: None
) -> AsyncIterator[tuple[Server, asyncio.subprocess.Process]]:
    """`clinicflow serve` in a process of its own, on the test's database (and Redis)."""
    port = _free_port()
    environment = {
        **os.environ,
        "CLINICFLOW_ENV": "test",
        "CLINICFLOW_SECRET_KEY": settings.secret_key,
        "DATABASE_URL": database_url,
        "CLINICFLOW_VAR_DIR": str(settings.var_dir),
        "EMBEDDED_WORKER": "false",
    }
    environment.pop("REDIS_URL", None)
    if TEST_REDIS_URL:
        environment["REDIS_URL"] = TEST_REDIS_URL
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "clinicflow", "serve", "--port", str(port)),
        env=environment,
        cwd=settings.var_dir,
    )
    server = Server(port=port)
    try:
        await _wait_healthy(server, process)
        yield server, process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_a_catch_up_dropped_mid_way_frees_its_memory_and_sigterm_completes(
    served_process: tuple[Server, asyncio.subprocess.Process], clinic: Clinic, runtime: Runtime
) -> None:
    server, process = served_process
    patient, consultation = await long_conversation(clinic, runtime, 5_000)
    topic = f"consultation:{consultation.id}"

    # Warm up: one full catch-up read to the end, so the baseline has every code path and
    # cache the stuck ones use.
    reader = await connect(server, headers=patient.headers)
    assert len(await reader.subscribe(topic, since=0)) == consultation.last_seq + 5_000
    await reader.close()
    baseline = await settled_rss(process.pid)

    for _ in range(3):
        stuck = [await never_reading(server, patient.headers) for _ in range(3)]
        for connection in stuck:
            await connection.send(json.dumps({"op": "subscribe", "topic": topic, "since": 0}))
        await asyncio.sleep(1)  # the server is now blocked on what they do not read
        for connection in stuck:
            # Gone without a goodbye, unread frames still in its buffer: a reset.
            assert connection.transport is not None
            connection.transport.abort()

    after = await settled_rss(process.pid)
    # Nine catch-ups of 5,000 messages (10 MB) each held at least a page of events and a
    # full outbox while their handlers were stuck; released, the process is near where it
    # started.
    assert after - baseline < 16 * 1024, (baseline, after)

    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down, then raises the signal it caught again: -SIGTERM, in 5 s.
    assert await asyncio.wait_for(process.wait(), 5) in (0, -signal.SIGTERM)
