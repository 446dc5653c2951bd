"""A consultation over real sockets: many senders at once, resuming, duplicates, gaps
between processes, presence and typing, and two server processes on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import schemas
from clinicflow.consultations import service as consultations
from clinicflow.consultations.models import Consultation, Message
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.realtime import Event
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic, Person
from tests.realtime.conftest import Server, Socket, connect

CLIENTS = 20
MESSAGES_EACH = 10


async def active(clinic: Clinic) -> tuple[Person, Person, Consultation]:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    return patient, doctor, consultation


def is_message(frame: dict[str, Any]) -> bool:
    return frame.get("type") == "message.created"


async def messages_until(socket: Socket, last_seq: int, seen: list[int]) -> list[int]:
    """Collect message seqs (appending to `seen`) until `last_seq` has arrived."""
    while not seen or seen[-1] < last_seq:
        frame = await socket.until(is_message, wait=20)
        seen.append(frame["seq"])
    return seen


async def test_twenty_concurrent_senders_all_see_one_gap_free_sequence(
    server: Server, clinic: Clinic, session: AsyncSession
) -> None:
    patient, doctor, consultation = await active(clinic)
    topic = f"consultation:{consultation.id}"
    start = consultation.last_seq
    people = [patient if n % 2 else doctor for n in range(CLIENTS)]
    sockets = [await connect(server, headers=person.headers) for person in people]
    for socket in sockets:
        await socket.subscribe(topic, since=start)
    total = start + CLIENTS * MESSAGES_EACH
    seen: list[list[int]] = [[] for _ in sockets]

    async def client(index: int) -> None:
        socket = sockets[index]
        for n in range(MESSAGES_EACH):
            client_id = f"c{index}-{n}"
            await socket.send(op="send", topic=topic, client_id=client_id, body=f"{index}/{n}")
            if index == 0 and n == MESSAGES_EACH // 2:
                # One client drops in the middle, comes back from the last seq it saw and,
                # like the browser client, sends again what was never acknowledged (frames
                # in flight when a socket closes may never reach the server).
                await socket.close()
                last = seen[0][-1] if seen[0] else start
                socket = sockets[0] = await connect(server, headers=people[0].headers)
                seen[0].extend(frame["seq"] for frame in await socket.subscribe(topic, since=last))
                for again in range(n + 1):
                    await socket.send(
                        op="send", topic=topic, client_id=f"c0-{again}", body=f"0/{again}"
                    )

    async def reader(index: int) -> None:
        await messages_until(sockets[index], total, seen[index])

    readers = [asyncio.create_task(reader(n)) for n in range(1, CLIENTS)]
    await asyncio.gather(*(client(n) for n in range(CLIENTS)))

    await asyncio.gather(*readers)
    await messages_until(sockets[0], total, seen[0])

    expected = list(range(start + 1, total + 1))
    for index, seqs in enumerate(seen):
        assert seqs == expected, f"client {index} saw {seqs}"
    stored = await session.scalars(
        select(Message.seq).where(Message.consultation_id == consultation.id).order_by(Message.seq)
    )
    assert list(stored) == list(range(1, total + 1))
    for socket in sockets:
        await socket.close()


async def test_the_same_client_id_over_the_socket_stores_one_message(
    server: Server, clinic: Clinic, session: AsyncSession
) -> None:
    patient, _, consultation = await active(clinic)
    topic = f"consultation:{consultation.id}"
    sockets = [await connect(server, headers=patient.headers) for _ in range(5)]
    for socket in sockets:
        await socket.send(op="send", topic=topic, client_id="same-one", body="hello")
    acks = [await socket.until(lambda frame: frame.get("op") == "sent") for socket in sockets]
    assert len({ack["message"]["id"] for ack in acks}) == 1
    assert {ack["client_id"] for ack in acks} == {"same-one"}
    count = await session.scalar(
        select(func.count()).where(
            Message.consultation_id == consultation.id, Message.client_id == "same-one"
        )
    )
    assert count == 1


async def test_a_refused_send_answers_with_the_error_and_its_client_id(
    server: Server, clinic: Clinic
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    pending = await clinic.consultation(patient, doctor)
    socket = await connect(server, headers=patient.headers)
    topic = f"consultation:{pending.id}"
    await socket.send(op="send", topic=topic, client_id="early", body="hello?")
    error = await socket.receive()
    assert error["op"] == "error"
    assert error["client_id"] == "early"
    assert error["code"] == "invalid_transition" or error["code"].startswith("consultation_")
    await socket.send(op="send", topic=topic, client_id="long", body="x" * 4001)
    assert (await socket.receive())["client_id"] == "long"
    await socket.close()


async def test_a_resubscriber_gets_what_it_missed_in_order(server: Server, clinic: Clinic) -> None:
    patient, doctor, consultation = await active(clinic)
    topic = f"consultation:{consultation.id}"
    socket = await connect(server, headers=patient.headers)
    await socket.subscribe(topic, since=consultation.last_seq)
    await clinic.send(doctor, consultation.id, "first")
    first = await socket.until(is_message)
    await socket.close()
    for n in range(5):
        assert (await clinic.send(doctor, consultation.id, f"while away {n}")).status_code == 201
    again = await connect(server, headers=patient.headers)
    missed = await again.subscribe(topic, since=first["seq"])
    assert [event["seq"] for event in missed] == list(range(first["seq"] + 1, first["seq"] + 6))
    assert [event["data"]["body"] for event in missed] == [f"while away {n}" for n in range(5)]
    await again.close()


async def test_an_event_ahead_of_a_lost_one_waits_and_the_database_fills_the_gap(
    server: Server, clinic: Clinic, runtime: Runtime
) -> None:
    """Another process stored seq N+1 and N+2 but only N+2's announcement got here."""
    patient, doctor, consultation = await active(clinic)
    topic = f"consultation:{consultation.id}"
    socket = await connect(server, headers=patient.headers)
    await socket.subscribe(topic, since=consultation.last_seq)
    stored = []
    async with AsyncSession(bind=runtime.engine, expire_on_commit=False) as quiet:
        # A session without the runtime's publisher: these messages announce nothing.
        for body in ("lost announcement", "arrives first"):
            message, _ = await consultations.send_message(
                session=quiet,
                actor=doctor.user,
                consultation_id=consultation.id,
                client_id=uuid.uuid4().hex,
                body=body,
            )
            stored.append(message)
        await quiet.commit()
    later = stored[1]
    await runtime.broker.publish(
        [Event(topic, "message.created", schemas.message_json(later), seq=later.seq)]
    )
    first, second = await socket.until(is_message), await socket.until(is_message)
    assert [first["seq"], second["seq"]] == [stored[0].seq, later.seq]
    assert first["data"]["body"] == "lost announcement"
    await socket.close()


async def test_events_published_out_of_order_reach_followers_in_order(
    server: Server, clinic: Clinic, runtime: Runtime
) -> None:
    patient, doctor, consultation = await active(clinic)
    topic = f"consultation:{consultation.id}"
    socket = await connect(server, headers=patient.headers)
    await socket.subscribe(topic, since=consultation.last_seq)
    async with AsyncSession(bind=runtime.engine, expire_on_commit=False) as quiet:
        sent = [
            (
                await consultations.send_message(
                    session=quiet,
                    actor=doctor.user,
                    consultation_id=consultation.id,
                    client_id=f"m{n}",
                    body=f"m{n}",
                )
            )[0]
            for n in range(4)
        ]
        await quiet.commit()
    shuffled = [sent[2], sent[0], sent[3], sent[1], sent[0]]
    for message in shuffled:
        await runtime.broker.publish(
            [Event(topic, "message.created", schemas.message_json(message), seq=message.seq)]
        )
    received = [(await socket.until(is_message))["seq"] for _ in range(4)]
    assert received == [message.seq for message in sent]
    with pytest.raises(TimeoutError):
        await socket.until(is_message, wait=0.5)
    await socket.close()


async def test_presence_and_typing_between_patient_and_doctor(
    server: Server, clinic: Clinic
) -> None:
    patient, doctor, consultation = await active(clinic)
    topic = f"consultation:{consultation.id}"
    presence = f"presence:{consultation.id}"
    mine = await connect(server, headers=patient.headers)
    await mine.subscribe(topic, since=consultation.last_seq)
    snapshot = await mine.subscribe(presence)
    assert snapshot[0]["type"] == "presence.snapshot"
    assert snapshot[0]["data"]["user_ids"] == [str(patient.id)]

    theirs = await connect(server, headers=doctor.headers)
    await theirs.subscribe(topic, since=consultation.last_seq)
    joined = await mine.until(lambda frame: frame.get("type") == "presence.updated")
    assert sorted(joined["data"]["user_ids"]) == sorted([str(patient.id), str(doctor.id)])

    await theirs.send(op="typing", topic=topic)
    typing = await mine.until(lambda frame: frame.get("type") == "typing")
    assert typing["data"] == {"user_id": str(doctor.id), "name": doctor.user.name, "role": "doctor"}
    assert typing["seq"] is None
    # The typist is not told they are typing: everything their socket got before the answer
    # to a later ping holds no typing event.
    await theirs.send(op="ping")
    seen: list[dict[str, Any]] = []
    await theirs.until(lambda frame: seen.append(frame) or frame.get("op") == "pong")
    assert [frame for frame in seen if frame.get("type") == "typing"] == []

    await theirs.close()
    left = await mine.until(lambda frame: frame.get("type") == "presence.updated")
    assert left["data"]["user_ids"] == [str(patient.id)]
    await mine.close()


async def test_outsiders_cannot_follow_a_consultation_or_its_presence(
    server: Server, clinic: Clinic, client: httpx.AsyncClient
) -> None:
    _, _, consultation = await active(clinic)
    stranger = await clinic.patient()
    other_doctor = await clinic.doctor()
    for person in (stranger, other_doctor):
        socket = await connect(server, headers=person.headers)
        for topic in (f"consultation:{consultation.id}", f"presence:{consultation.id}"):
            await socket.send(op="subscribe", topic=topic, since=0)
            assert (await socket.receive())["code"] == "not_found"
        await socket.send(
            op="send", topic=f"consultation:{consultation.id}", client_id="x", body="hi"
        )
        assert (await socket.receive())["code"] == "not_found"
        await socket.close()
        polled = await client.get(
            "/api/events",
            params={"topic": f"consultation:{consultation.id}", "since": 0},
            headers=person.headers,
        )
        assert polled.status_code == 404


async def test_polling_returns_the_messages_after_since(
    clinic: Clinic, client: httpx.AsyncClient
) -> None:
    patient, doctor, consultation = await active(clinic)
    for n in range(3):
        await clinic.send(doctor, consultation.id, f"poll {n}")
    polled = await client.get(
        "/api/events",
        params={"topic": f"consultation:{consultation.id}", "since": consultation.last_seq + 1},
        headers=patient.headers,
    )
    assert polled.status_code == 200
    events = polled.json()["events"]
    assert [event["data"]["body"] for event in events] == ["poll 1", "poll 2"]
    assert [event["type"] for event in events] == ["message.created"] * 2


async def test_two_processes_deliver_to_each_other_and_share_presence(
    two_servers: list[Server], clinic: Clinic
) -> None:
    first, second = two_servers
    patient, doctor, consultation = await active(clinic)
    topic = f"consultation:{consultation.id}"
    on_first = await connect(first, headers=patient.headers)
    await on_first.subscribe(topic, since=consultation.last_seq)
    await on_first.subscribe(f"presence:{consultation.id}")
    on_second = await connect(second, headers=doctor.headers)
    await on_second.subscribe(topic, since=consultation.last_seq)

    joined = await on_first.until(
        lambda frame: (
            frame.get("type") == "presence.updated" and str(doctor.id) in frame["data"]["user_ids"]
        )
    )
    assert sorted(joined["data"]["user_ids"]) == sorted([str(patient.id), str(doctor.id)])

    await on_second.send(op="send", topic=topic, client_id="across", body="from the second process")
    received = await on_first.until(is_message)
    assert received["data"]["body"] == "from the second process"
    await on_first.send(op="send", topic=topic, client_id="back", body="and back")
    answered = await on_second.until(
        lambda frame: is_message(frame) and frame["data"]["client_id"] == "back"
    )
    assert answered["seq"] == received["seq"] + 1

    await on_second.close()
    left = await on_first.until(lambda frame: frame.get("type") == "presence.updated")
    assert left["data"]["user_ids"] == [str(patient.id)]
    await on_first.close()
