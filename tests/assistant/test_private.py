"""The doctor's `@b` is private: over real sockets and the history API, the patient never
gets the doctor's question, its answer or anything of the memory; sharing an answer posts
exactly its text into the chat as the doctor's message; a patient's `@b` stays public and
never draws on the memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.assistant.conftest import Chat
from tests.notifications.helpers import kinds, told
from tests.realtime.conftest import Server, Socket, connect, serving

pytestmark = pytest.mark.usefixtures("app")

SECRET = "penicillin"


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[Server]:
    async with serving(app) as running:
        yield running


async def collect(socket: Socket, predicate: Any) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = await socket.receive()
        frames.append(frame)
        if predicate(frame):
            return frames


async def everything_so_far(socket: Socket) -> list[dict[str, Any]]:
    """What the socket was sent up to now (a ping's pong closes the list)."""
    await socket.send(op="ping")
    return await collect(socket, lambda f: f.get("op") == "pong")


async def history(chat: Chat, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await chat.clinic.client.get(
        f"/api/consultations/{chat.id}/messages", params={"limit": 100}, headers=headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    # The consultation's own system messages (accepted, ...) are not what these tests read.
    return [item for item in items if item["kind"] != "system"]


async def test_the_patient_never_receives_the_doctors_question_answer_or_memory(
    chat: Chat, server: Server
) -> None:
    topic = f"consultation:{chat.id}"
    doctor = await connect(server, chat.doctor.headers)
    patient = await connect(server, chat.patient.headers)
    try:
        for socket, person in ((doctor, chat.doctor), (patient, chat.patient)):
            await socket.subscribe(topic)
            await socket.subscribe(f"user:{person.id}")
        await chat.say(chat.patient, "I get a rash from some antibiotics")
        # Over the socket, as the page sends, and over HTTP.
        await doctor.send(
            op="send", topic=topic, client_id="r1", body=f"@b remember allergic to {SECRET}"
        )
        mine = await collect(doctor, lambda f: f.get("op") == "sent")
        sent = mine[-1]
        assert sent["message"]["private"] is True
        remembered = await chat.outcome(sent["message"]["seq"])
        summary = await chat.ask(chat.doctor, "@b summary")
        recall = await chat.ask(chat.doctor, "@b what did I say about allergies?")
        for answer in (remembered, summary, recall):
            assert answer["private"] is True
        assert SECRET in summary["body"]
        await chat.assistant.idle()

        mine += await everything_so_far(doctor)
        privately = [
            f for f in mine if f.get("type") == "message.created" and f["data"].get("private")
        ]
        # Three questions and three answers, each on the doctor's own topic.
        assert len(privately) == 6
        assert {f["topic"] for f in privately} == {f"user:{chat.doctor.id}"}
        assert any(f.get("type") == "assistant.delta" for f in mine)

        seen = await everything_so_far(patient)
        assert SECRET not in str(seen)
        assert "@b" not in str(seen)
        assert not [f for f in seen if str(f.get("type", "")).startswith("assistant.")]
        said = [f["data"]["body"] for f in seen if f.get("type") == "message.created"]
        assert said == ["I get a rash from some antibiotics"]

        # A reconnecting patient is caught up without them too.
        again = await connect(server, chat.patient.headers)
        try:
            replay = await again.subscribe(topic, since=0)
        finally:
            await again.close()
        said = [f["data"]["body"] for f in replay if f["data"]["kind"] != "system"]
        assert said == ["I get a rash from some antibiotics"]
    finally:
        await doctor.close()
        await patient.close()

    as_patient = await history(chat, chat.patient.headers)
    assert [m["body"] for m in as_patient] == ["I get a rash from some antibiotics"]
    assert SECRET not in str(as_patient)
    # The doctor's reload keeps the private thread, marked.
    as_doctor = await history(chat, chat.doctor.headers)
    assert len(as_doctor) == 7
    assert [m.get("private", False) for m in as_doctor] == [False] + [True] * 6


async def test_the_doctors_private_question_notifies_no_one(
    chat: Chat, session: AsyncSession
) -> None:
    # The patient is not looking at the consultation, so a message of the doctor's in the
    # chat would tell them; the doctor's private thread must not even say it exists.
    before = kinds(await told(session, chat.patient.id))
    await chat.ask(chat.doctor, f"@b remember allergic to {SECRET}")
    await chat.ask(chat.doctor, "@b summary")
    assert kinds(await told(session, chat.patient.id)) == before
    # A message of the doctor's in the chat does tell them (so the quiet above is the rule).
    await chat.say(chat.doctor, "How are you feeling today?")
    assert kinds(await told(session, chat.patient.id)) == [*before, "chat_message"]


async def test_a_patients_question_is_public_and_never_from_the_memory(chat: Chat) -> None:
    await chat.ask(chat.doctor, f"@b remember allergic to {SECRET}")
    answer = await chat.ask(chat.patient, "@b what did I say about allergies?")
    assert "private" not in answer
    assert SECRET not in answer["body"]
    summary = await chat.ask(chat.patient, "@b summary")
    assert SECRET not in summary["body"]
    bodies = [m["body"] for m in await history(chat, chat.patient.headers)]
    assert summary["body"] in bodies


async def test_sharing_posts_exactly_the_answer_as_the_doctors_message(
    chat: Chat, server: Server
) -> None:
    await chat.say(chat.patient, "My knee is swollen since Monday")
    answer = await chat.ask(chat.doctor, "@b summary")
    client = chat.clinic.client
    url = f"/api/consultations/{chat.id}/assistant/share"
    patient = await connect(server, chat.patient.headers)
    try:
        await patient.subscribe(f"consultation:{chat.id}")
        # Only the doctor whose thread it is may share it; to the patient it does not exist.
        refused = await client.post(url, json={"seq": answer["seq"]}, headers=chat.patient.headers)
        assert refused.status_code == 404
        shared = await client.post(url, json={"seq": answer["seq"]}, headers=chat.doctor.headers)
        assert shared.status_code == 200, shared.text
        message = shared.json()
        assert message["body"] == answer["body"]
        assert message["sender_role"] == "doctor"
        assert message["sender_id"] == str(chat.doctor.id)
        assert "private" not in message
        got = await patient.until(lambda f: f.get("type") == "message.created")
        assert got["data"]["body"] == answer["body"]
        assert got["data"]["seq"] == message["seq"]
        # Sharing again posts nothing new.
        twice = await client.post(url, json={"seq": answer["seq"]}, headers=chat.doctor.headers)
        assert twice.json()["seq"] == message["seq"]
        seen = await everything_so_far(patient)
        assert not [f for f in seen if f.get("type") == "message.created"]
    finally:
        await patient.close()
    # A question, or a message of the chat, is no answer to share.
    for seq in (answer["seq"] - 1, message["seq"]):
        wrong = await client.post(url, json={"seq": seq}, headers=chat.doctor.headers)
        assert wrong.status_code == 404
    bodies = [m["body"] for m in await history(chat, chat.patient.headers)]
    assert bodies == ["My knee is swollen since Monday", answer["body"]]


async def test_the_patients_record_and_export_leave_the_private_thread_out(chat: Chat) -> None:
    await chat.say(chat.patient, "Thank you doctor")
    await chat.ask(chat.doctor, f"@b remember allergic to {SECRET}")
    await chat.ask(chat.doctor, f"@b is {SECRET} safe for this patient?")
    client = chat.clinic.client
    base = f"/api/patients/{chat.patient.id}"
    export = await client.get(f"{base}/export.fhir.json", headers=chat.patient.headers)
    assert export.status_code == 200, export.text
    assert "Thank you doctor" in export.text
    assert SECRET not in export.text
    found = await client.get(f"{base}/history", params={"q": SECRET}, headers=chat.patient.headers)
    assert found.status_code == 200, found.text
    assert found.json()["items"] == []
    # The doctor's own search still finds their private thread.
    mine = await client.get(f"{base}/history", params={"q": SECRET}, headers=chat.doctor.headers)
    assert mine.status_code == 200, mine.text
    assert mine.json()["items"] != []
