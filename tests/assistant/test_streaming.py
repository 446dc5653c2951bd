"""The answer reaches both people over real sockets as it is produced: "thinking", the text
growing piece by piece, then the stored message of kind `assistant`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI

from clinicflow.consultations.schemas import ConsultationStatus
from tests.assistant.conftest import Chat
from tests.consultations.clinic import Clinic
from tests.realtime.conftest import Server, Socket, connect, serving
from tests.realtime.conftest import two_servers as two_servers  # the fixture

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[Server]:
    async with serving(app) as running:
        yield running


async def collect(socket: Socket, predicate: Any) -> list[dict[str, Any]]:
    """Every frame up to and including the first that matches."""
    frames = []
    while True:
        frame = await socket.receive()
        frames.append(frame)
        if predicate(frame):
            return frames


async def frames_until_answer(socket: Socket, client_id: str) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = await socket.receive()
        frames.append(frame)
        if frame.get("type") == "message.created" and frame["data"]["client_id"] == client_id:
            return frames


async def test_both_people_see_the_answer_stream_in_over_their_sockets(
    chat: Chat, server: Server
) -> None:
    topic = f"consultation:{chat.id}"
    doctor = await connect(server, chat.doctor.headers)
    patient = await connect(server, chat.patient.headers)
    try:
        for socket in (doctor, patient):
            await socket.subscribe(topic)
        await chat.say(chat.patient, "The cough is worse at night")
        # The patient's question is answered in the chat, for both to see.
        await patient.send(op="send", topic=topic, client_id="q1", body="@b summary")
        sent = await patient.until(lambda f: f.get("op") == "sent")
        seq = sent["message"]["seq"]

        for socket in (doctor, patient):
            frames = await frames_until_answer(socket, f"assistant:{seq}")
            mine = [f for f in frames if f.get("data", {}).get("question_seq") == seq]
            kinds = [f["type"] for f in mine]
            assert kinds[0] == "assistant.thinking"
            assert kinds.count("assistant.delta") >= 2
            assert set(kinds) == {"assistant.thinking", "assistant.delta"}
            answer = frames[-1]["data"]
            assert answer["kind"] == "assistant"
            assert "The cough is worse at night" in answer["body"]
            grown = "".join(f["data"]["text"] for f in mine if f["type"] == "assistant.delta")
            assert grown.strip() == answer["body"]
            # The answer is durable like any message: it carries the next seq.
            assert frames[-1]["seq"] == seq + 1
    finally:
        await doctor.close()
        await patient.close()
    await chat.assistant.idle()


async def test_with_two_server_processes_exactly_one_answers(
    two_servers: list[Server], clinic: Clinic
) -> None:
    """Both processes hear every message through Redis; the claim lets one of them answer.
    The patient asks, so the answer is public and reaches the doctor on the other process
    (a doctor's own question is answered on their private topic: test_private.py)."""
    first, second = two_servers
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    topic = f"consultation:{consultation.id}"
    on_first = await connect(first, patient.headers)
    on_second = await connect(second, doctor.headers)
    try:
        for socket in (on_first, on_second):
            await socket.subscribe(topic, since=consultation.last_seq)
        await on_first.send(
            op="send", topic=topic, client_id="q", body="@b what should I do before we talk?"
        )
        sent = await on_first.until(lambda f: f.get("op") == "sent", wait=20)
        seq = sent["message"]["seq"]
        frames = await frames_until_answer(on_second, f"assistant:{seq}")
        # Anything a second answerer sent would arrive within this moment.
        with contextlib.suppress(TimeoutError):
            while True:
                frames.append(await on_second.receive(wait=1.5))
    finally:
        await on_first.close()
        await on_second.close()
    thinking = [f for f in frames if f.get("type") == "assistant.thinking"]
    outcomes = [
        f
        for f in frames
        if f.get("type") == "message.created" and f["data"]["client_id"] == f"assistant:{seq}"
    ]
    assert len(thinking) == 1
    assert len(outcomes) == 1
    assert outcomes[0]["data"]["kind"] == "assistant"


async def test_a_draft_reaches_the_doctors_socket_and_never_the_patients(
    chat: Chat, server: Server
) -> None:
    await chat.ask(chat.doctor, "@b remember Amoxicillin 500 mg three times a day for 7 days")
    topic = f"consultation:{chat.id}"
    doctor = await connect(server, chat.doctor.headers)
    patient = await connect(server, chat.patient.headers)
    try:
        for socket, person in ((doctor, chat.doctor), (patient, chat.patient)):
            await socket.subscribe(topic)
            await socket.subscribe(f"user:{person.id}")
        await patient.send(op="subscribe", topic=f"user:{chat.doctor.id}")
        refused = await patient.until(lambda f: f.get("op") in ("error", "subscribed"))
        assert refused["op"] == "error"

        seq = await chat.say(chat.doctor, "@b draft prescription")
        seen = await collect(doctor, lambda f: f.get("type") == "assistant.draft")
        drafted = seen[-1]
        assert drafted["topic"] == f"user:{chat.doctor.id}"
        assert drafted["data"]["draft"]["medications"][0]["name"] == "Amoxicillin"

        # The doctor's question is private: the notice that the draft is ready is theirs too.
        (ready,) = [
            f
            for f in seen
            if f.get("type") == "message.created" and f["data"]["client_id"] == f"assistant:{seq}"
        ]
        assert ready["topic"] == f"user:{chat.doctor.id}"
        assert ready["data"]["body"] == "assistant_draft_ready"
        await chat.assistant.idle()
        await patient.send(op="ping")
        frames = await collect(patient, lambda f: f.get("op") == "pong")
        assert not [f for f in frames if str(f.get("type", "")).startswith("assistant.")]
        assert not [f for f in frames if f.get("type") == "message.created"]
        assert "Amoxicillin" not in str(frames)
    finally:
        await doctor.close()
        await patient.close()
