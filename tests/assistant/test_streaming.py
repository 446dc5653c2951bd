"""The answer reaches both people over real sockets as it is produced: "thinking", the text
growing piece by piece, then the stored message of kind `assistant`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI

from tests.assistant.conftest import Chat
from tests.realtime.conftest import Server, Socket, connect, serving

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[Server]:
    async with serving(app) as running:
        yield running


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
        await doctor.send(op="send", topic=topic, client_id="q1", body="@b summary")
        sent = await doctor.until(lambda f: f.get("op") == "sent")
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
