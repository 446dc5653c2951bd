"""Group commit of chat sends: a batch stored in one transaction still answers each send by
the rules, and many senders on many consultations keep every consultation's seqs gap-free."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations.models import Message
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.notifications.models import Notification
from clinicflow.notifications.schemas import Kind
from clinicflow.realtime.connections import Connection, Member
from clinicflow.realtime.sends import PendingSend
from clinicflow.realtime.topics import Incoming
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic, Person
from tests.realtime.conftest import Server, connect

CONSULTATIONS = 8
MESSAGES_EACH = 12


def is_text(frame: dict[str, Any]) -> bool:
    return frame.get("type") == "message.created" and frame["data"]["kind"] == "text"


def connection_of(person: Person) -> Connection:
    """A socket's side of the hub for `person`, its login taken as freshly checked."""
    user = person.user
    connection = Connection(
        member=Member(id=user.id, name=user.name, role=user.role),
        login_id=uuid.uuid4(),
        buffer_size=100,
        abort=lambda code: None,
    )
    connection.login_checked_until = float("inf")
    return connection


def batches_of(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch the hub's writer stores from now on."""
    sizes: list[int] = []
    queue = runtime.hub._sends
    store = queue._store

    async def counted(sends: list[PendingSend]) -> None:
        sizes.append(len(sends))
        await store(sends)

    monkeypatch.setattr(queue, "_store", counted)
    return sizes


async def test_one_batch_answers_each_send_by_the_rules(
    runtime: Runtime, clinic: Clinic, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    stranger = await clinic.patient()
    active = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    ended = await clinic.consultation(patient, doctor, ConsultationStatus.ended)
    theirs = await clinic.consultation(stranger, doctor, ConsultationStatus.active)
    hub, mine, doctors = runtime.hub, connection_of(patient), connection_of(doctor)
    sizes = batches_of(runtime, monkeypatch)

    def send(connection: Connection, consultation: uuid.UUID, client_id: str) -> Any:
        payload = {"client_id": client_id, "body": f"{client_id} text"}
        return hub.send(connection, f"consultation:{consultation}", payload)

    answers = await asyncio.gather(
        send(mine, active.id, "first"),
        send(mine, ended.id, "too-late"),
        send(mine, theirs.id, "not-mine"),
        send(mine, active.id, "twice"),
        send(mine, active.id, "twice"),
        send(doctors, active.id, "twice"),
        send(mine, active.id, "last"),
        return_exceptions=True,
    )
    assert sizes == [7]
    first, too_late, not_mine, twice, again, taken, last = answers
    assert isinstance(too_late, AppError)
    assert too_late.code is ErrorCode.consultation_not_open
    assert isinstance(not_mine, AppError)
    assert not_mine.code is ErrorCode.not_found
    assert isinstance(taken, AppError)
    assert taken.code is ErrorCode.client_id_taken
    assert again == twice
    assert [first["seq"], twice["seq"], last["seq"]] == [
        active.last_seq + 1,
        active.last_seq + 2,
        active.last_seq + 3,
    ]
    resent = await send(mine, active.id, "twice")
    assert resent == twice
    stored = await session.scalars(
        select(Message.client_id)
        .where(Message.consultation_id.in_([active.id, ended.id, theirs.id]))
        .where(Message.sender_id == patient.id)
        .order_by(Message.seq)
    )
    assert list(stored) == ["first", "twice", "last"]


async def test_a_batch_tells_each_away_patient_once(
    runtime: Runtime, clinic: Clinic, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Doctors' messages in one batch: a patient watching the consultation is not notified,
    each patient who is away gets one notification however many messages were for them."""
    doctor = await clinic.doctor()
    watching, away, also_away = [await clinic.patient() for _ in range(3)]
    consultations = {
        person.id: await clinic.consultation(person, doctor, ConsultationStatus.active)
        for person in (watching, away, also_away)
    }
    viewer = connection_of(watching)
    watched = consultations[watching.id].id
    await runtime.broker.presence.join(f"presence:{watched}", str(watching.id), viewer.id)
    hub, doctors = runtime.hub, connection_of(doctor)
    sizes = batches_of(runtime, monkeypatch)

    targets = [watching, away, away, also_away, away]
    answers = await asyncio.gather(
        *(
            hub.send(
                doctors,
                f"consultation:{consultations[person.id].id}",
                {"client_id": f"m{n}", "body": "Please take the tablets with food."},
            )
            for n, person in enumerate(targets)
        )
    )
    assert sizes == [5]
    assert all(isinstance(answer, dict) for answer in answers)
    told = await session.scalars(
        select(Notification.user_id).where(Notification.kind == Kind.chat_message)
    )
    assert sorted(told, key=str) == sorted([away.id, also_away.id], key=str)


async def test_a_failed_batch_is_stored_one_send_at_a_time(
    runtime: Runtime, clinic: Clinic, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure that is not a sender's refusal rolls the whole batch back; each send is
    then tried alone, so only the send that fails answers with the failure."""
    patient, doctor = await clinic.patient(), await clinic.doctor()
    active = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    hub, mine = runtime.hub, connection_of(patient)
    consultation_topic, _ = hub.topics.resolve(f"consultation:{active.id}")
    store = consultation_topic.send  # type: ignore[attr-defined]

    async def breaks_on_boom(
        *, session: AsyncSession, sends: list[Incoming]
    ) -> list[dict[str, Any] | AppError]:
        answers: list[dict[str, Any] | AppError] = await store(session=session, sends=sends)
        if any(send.payload["client_id"] == "boom" for send in sends):
            raise OSError("lost the connection")
        return answers

    monkeypatch.setattr(consultation_topic, "send", breaks_on_boom)
    topic = f"consultation:{active.id}"
    answers = await asyncio.gather(
        *(
            hub.send(mine, topic, {"client_id": client_id, "body": "hi"})
            for client_id in ("a", "boom", "b")
        ),
        return_exceptions=True,
    )
    assert isinstance(answers[1], OSError)
    assert [answers[0]["seq"], answers[2]["seq"]] == [active.last_seq + 1, active.last_seq + 2]
    stored = await session.scalars(
        select(Message.client_id)
        .where(Message.consultation_id == active.id, Message.sender_id == patient.id)
        .order_by(Message.seq)
    )
    assert list(stored) == ["a", "b"]


async def test_many_senders_on_many_consultations_keep_gap_free_seqs(
    server: Server, clinic: Clinic, session: AsyncSession
) -> None:
    """Both sides of several consultations send without waiting for answers, so the writer
    mixes consultations in its batches; each consultation still numbers its messages
    1, 2, 3… with none lost or doubled, and each follower sees them in that order."""
    doctor = await clinic.doctor()
    rooms = []
    for _ in range(CONSULTATIONS):
        patient = await clinic.patient()
        consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
        rooms.append((consultation, [patient, doctor]))

    async def talk(consultation_id: uuid.UUID, person: Person, side: int) -> list[int]:
        topic = f"consultation:{consultation_id}"
        socket = await connect(server, headers=person.headers)
        caught_up = await socket.subscribe(topic, since=0)
        for n in range(MESSAGES_EACH):
            await socket.send(op="send", topic=topic, client_id=f"{side}-{n}", body=f"m{n}")
        # The other side may have sent before this socket subscribed.
        seqs = [frame["seq"] for frame in caught_up if is_text(frame)]
        acks = 0
        total = 2 * MESSAGES_EACH
        while acks < MESSAGES_EACH or len(seqs) < total:
            frame = await socket.receive(wait=30)
            assert frame.get("op") != "error", frame
            if frame.get("op") == "sent":
                acks += 1
            elif is_text(frame):
                seqs.append(frame["seq"])
        await socket.close()
        return seqs

    seen = await asyncio.gather(
        *(
            talk(consultation.id, person, side)
            for consultation, people in rooms
            for side, person in enumerate(people)
        )
    )
    for consultation, _ in rooms:
        stored = list(
            await session.scalars(
                select(Message.seq)
                .where(Message.consultation_id == consultation.id)
                .order_by(Message.seq)
            )
        )
        assert stored == list(range(1, len(stored) + 1))
        texts = await session.scalars(
            select(Message.client_id).where(
                Message.consultation_id == consultation.id, Message.kind == "text"
            )
        )
        assert sorted(texts) == sorted(f"{s}-{n}" for s in (0, 1) for n in range(MESSAGES_EACH))
    for seqs in seen:
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == 2 * MESSAGES_EACH
