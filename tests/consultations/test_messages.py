"""Messages: stored as written, one per client id, a gap-free `seq` however they arrive,
history backwards, events only after commit, audited staff reads, and the socket topic."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import service as consultations
from clinicflow.consultations.events import ConsultationTopic
from clinicflow.consultations.models import Consultation, Message
from clinicflow.consultations.schemas import ConsultationStatus, ConsultationType
from clinicflow.core.audit import AuditEntry
from clinicflow.core.errors import AppError
from clinicflow.identity.schemas import Role
from clinicflow.realtime.topics import AcceptsSends, Incoming
from clinicflow.runtime import Runtime
from tests.consultations.clinic import TEST_PENDING, Clinic, Person
from tests.consultations.conftest import Published

pytestmark = pytest.mark.usefixtures("app")
S = ConsultationStatus
MESSAGE_FIELDS = {
    "id",
    "seq",
    "client_id",
    "sender_id",
    "sender_role",
    "kind",
    "body",
    "created_at",
}


async def active(clinic: Clinic) -> tuple[Person, Person, Consultation]:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    return patient, doctor, await clinic.consultation(patient, doctor, S.active)


async def seqs(session: AsyncSession, consultation_id: uuid.UUID) -> list[int]:
    rows = await session.scalars(
        select(Message.seq).where(Message.consultation_id == consultation_id).order_by(Message.seq)
    )
    return list(rows)


async def test_a_message_is_stored_as_written_and_answered_in_the_protocol_shape(
    clinic: Clinic, published: Published
) -> None:
    patient, doctor, consultation = await active(clinic)
    body = "  <b>Hello</b> & welcome\n\tline two — ✓  "
    response = await clinic.send(patient, consultation.id, body, client_id="c-1")
    assert response.status_code == 201, response.text
    message = response.json()
    assert set(message) == MESSAGE_FIELDS
    assert message["body"] == body
    assert message["seq"] == 2  # 1 is "accepted"
    assert message["client_id"] == "c-1"
    assert message["sender_id"] == str(patient.id)
    assert (message["sender_role"], message["kind"]) == ("patient", "text")

    [event] = [e for e in published.of_type("message.created") if e.seq == 2]
    assert event.topic == f"consultation:{consultation.id}"
    assert dict(event.data) == message
    reply = await clinic.send(doctor, consultation.id, "Hi, how can I help?")
    assert reply.json()["sender_role"] == "doctor"
    assert reply.json()["seq"] == 3


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"client_id": "ok", "body": ""}, "body"),
        ({"client_id": "ok", "body": "   \n"}, "body"),
        ({"client_id": "ok", "body": "x" * 4001}, "body"),
        ({"client_id": "ok", "body": "nul\x00"}, "body"),
        ({"client_id": "", "body": "hi"}, "client_id"),
        ({"client_id": "system:accepted", "body": "hi"}, "client_id"),
        ({"client_id": "x" * 65, "body": "hi"}, "client_id"),
        ({"body": "hi"}, "client_id"),
    ],
)
async def test_bad_messages_are_refused(
    clinic: Clinic, payload: dict[str, Any], field: str
) -> None:
    patient, _, consultation = await active(clinic)
    response = await clinic.client.post(
        f"/api/consultations/{consultation.id}/messages", json=payload, headers=patient.headers
    )
    assert response.status_code == 422, response.text
    assert field in response.text


async def test_4000_characters_is_the_limit(clinic: Clinic) -> None:
    patient, _, consultation = await active(clinic)
    assert (await clinic.send(patient, consultation.id, "x" * 4000)).status_code == 201


async def test_the_same_client_id_twice_stores_one_message(
    clinic: Clinic, session: AsyncSession, published: Published
) -> None:
    patient, doctor, consultation = await active(clinic)
    first = await clinic.send(patient, consultation.id, "once", client_id="dup")
    again = await clinic.send(patient, consultation.id, "once more?", client_id="dup")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert await seqs(session, consultation.id) == [1, 2]
    assert len([e for e in published.of_type("message.created") if e.seq == 2]) == 1
    # Someone else's id is not theirs to reuse, and the answer says so.
    stolen = await clinic.send(doctor, consultation.id, "mine", client_id="dup")
    assert stolen.status_code == 409
    assert stolen.json()["error"]["code"] == "client_id_taken"


async def test_a_resend_after_the_end_still_answers_with_the_stored_message(
    clinic: Clinic,
) -> None:
    patient, doctor, consultation = await active(clinic)
    first = await clinic.send(patient, consultation.id, "last words", client_id="late")
    await clinic.client.post(f"/api/consultations/{consultation.id}/end", headers=doctor.headers)
    again = await clinic.send(patient, consultation.id, "last words", client_id="late")
    assert again.status_code == 200
    assert again.json() == first.json()
    fresh = await clinic.send(patient, consultation.id, "after the end")
    assert fresh.status_code == 409
    assert fresh.json()["error"]["code"] == "consultation_not_open"


async def test_20_concurrent_senders_get_a_gap_free_sequence(
    clinic: Clinic, session: AsyncSession, published: Published
) -> None:
    patient, doctor, consultation = await active(clinic)
    senders = [patient if n % 2 else doctor for n in range(20)]
    answers = await asyncio.gather(
        *[
            clinic.send(who, consultation.id, f"message {n}", client_id=f"m{n}")
            for n, who in enumerate(senders)
        ]
    )
    assert [a.status_code for a in answers] == [201] * 20
    assert sorted(a.json()["seq"] for a in answers) == list(range(2, 22))
    assert await seqs(session, consultation.id) == list(range(1, 22))
    stored = await session.scalar(
        select(Consultation.last_seq).where(Consultation.id == consultation.id)
    )
    assert stored == 21
    # Every answer's seq is the one its body was stored under, and each was announced once,
    # after its transaction had committed.
    by_client = {a.json()["client_id"]: a.json() for a in answers}
    for n in range(20):
        assert by_client[f"m{n}"]["body"] == f"message {n}"
    announced = sorted(e.seq or 0 for e in published.of_type("message.created"))
    assert announced == list(range(1, 22))
    assert all(published.stored_when_published)


async def test_concurrent_resends_of_one_client_id_store_one_message(
    clinic: Clinic, session: AsyncSession
) -> None:
    patient, _, consultation = await active(clinic)
    answers = await asyncio.gather(
        *[clinic.send(patient, consultation.id, "only once", client_id="same") for _ in range(10)]
    )
    assert sorted(a.status_code for a in answers) == [200] * 9 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await seqs(session, consultation.id) == [1, 2]
    after = await clinic.send(patient, consultation.id, "next")
    assert after.json()["seq"] == 3


async def _waiting_for_a_lock(runtime: Runtime) -> None:
    """Until some transaction waits for a row lock (PostgreSQL only)."""
    if runtime.settings.is_sqlite:
        return
    autocommit = runtime.engine.execution_options(isolation_level="AUTOCOMMIT")
    async with AsyncSession(bind=autocommit) as reader:
        for _ in range(500):
            waiting = await reader.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
            if waiting:
                return
            await asyncio.sleep(0.01)
    raise AssertionError("the second sender never waited for the first")


async def test_a_resend_that_loses_the_race_on_the_index_leaves_no_gap(
    clinic: Clinic, runtime: Runtime, session: AsyncSession
) -> None:
    """On PostgreSQL the second sender looks, finds nothing, queues on the row, then hits the
    unique index once the first commits: its savepoint must take its `seq` back."""
    patient, _, consultation = await active(clinic)

    async def send(body: str) -> tuple[Message, bool]:
        async with runtime.transaction() as tx:
            return await consultations.send_message(
                session=tx,
                actor=patient.user,
                consultation_id=consultation.id,
                client_id="raced",
                body=body,
            )

    async with runtime.transaction() as first_tx:
        first, created = await consultations.send_message(
            session=first_tx,
            actor=patient.user,
            consultation_id=consultation.id,
            client_id="raced",
            body="first",
        )
        second = asyncio.create_task(send("second"))
        await _waiting_for_a_lock(runtime)
    resent, second_created = await second
    assert (created, second_created) == (True, False)
    assert resent.id == first.id
    assert resent.body == "first"
    assert await seqs(session, consultation.id) == [1, 2]
    next_one = await clinic.send(patient, consultation.id, "next")
    assert next_one.json()["seq"] == 3


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batches=st.lists(
        st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=6), min_size=1, max_size=4
    )
)
async def test_any_interleaving_of_sends_and_resends_is_gap_free(
    clinic_people: tuple[Person, Person], runtime: Runtime, batches: list[list[str]]
) -> None:
    patient, doctor = clinic_people
    async with runtime.transaction() as tx:
        consultation = await consultations.start(
            session=tx,
            actor=patient.user,
            max_pending=TEST_PENDING,
            doctor_id=doctor.id,
            problem="Property",
            type=ConsultationType.chat,
        )
    async with runtime.transaction() as tx:
        await consultations.accept(session=tx, actor=doctor.user, consultation_id=consultation.id)

    async def send(client_id: str) -> tuple[str, int]:
        async with runtime.transaction() as tx:
            message, _created = await consultations.send_message(
                session=tx,
                actor=patient.user,
                consultation_id=consultation.id,
                client_id=client_id,
                body=f"body {client_id}",
            )
            return client_id, message.seq

    seen: dict[str, int] = {}
    for batch in batches:
        for client_id, seq in await asyncio.gather(*[send(c) for c in batch]):
            assert seen.setdefault(client_id, seq) == seq  # a resend answers the same seq
    async with runtime.transaction(write=False) as tx:
        stored = list(
            await tx.execute(
                select(Message.seq, Message.client_id)
                .where(Message.consultation_id == consultation.id)
                .order_by(Message.seq)
            )
        )
    assert [row[0] for row in stored] == list(range(1, len(seen) + 2))
    assert {row[1]: row[0] for row in stored[1:]} == seen


@pytest.fixture
async def clinic_people(clinic: Clinic) -> tuple[Person, Person]:
    return await clinic.patient(), await clinic.doctor()


async def test_history_pages_backwards_by_seq(clinic: Clinic) -> None:
    patient, _, consultation = await active(clinic)
    for n in range(7):
        await clinic.send(patient, consultation.id, f"m{n}")
    path = f"/api/consultations/{consultation.id}/messages"

    latest = (await clinic.client.get(path, params={"limit": 3}, headers=patient.headers)).json()
    assert [m["seq"] for m in latest["items"]] == [6, 7, 8]
    assert latest["before_seq"] == 6
    older = await clinic.client.get(
        path, params={"limit": 3, "before_seq": latest["before_seq"]}, headers=patient.headers
    )
    assert [m["seq"] for m in older.json()["items"]] == [3, 4, 5]
    oldest = await clinic.client.get(
        path, params={"limit": 3, "before_seq": 3}, headers=patient.headers
    )
    assert [m["seq"] for m in oldest.json()["items"]] == [1, 2]
    assert oldest.json()["before_seq"] is None
    everything = await clinic.client.get(path, headers=patient.headers)
    assert [m["seq"] for m in everything.json()["items"]] == list(range(1, 9))
    for params in ({"limit": 101}, {"limit": 0}, {"before_seq": 0}, {"before_seq": "x"}):
        refused = await clinic.client.get(path, params=params, headers=patient.headers)
        assert refused.status_code == 422, params


async def test_staff_reads_of_messages_are_audited_and_patients_are_not(
    clinic: Clinic, session: AsyncSession
) -> None:
    patient, doctor, consultation = await active(clinic)
    admin = await clinic.staff(Role.admin)
    path = f"/api/consultations/{consultation.id}/messages"

    async def reads() -> list[tuple[Any, ...]]:
        rows = await session.execute(
            select(AuditEntry.actor_id, AuditEntry.details, AuditEntry.resource_id).where(
                AuditEntry.action == "consultation.messages_read"
            )
        )
        return [tuple(row) for row in rows]

    await clinic.client.get(path, headers=patient.headers)
    assert await reads() == []
    await clinic.client.get(path, headers=doctor.headers)
    await clinic.client.get(path, headers=admin.headers)
    assert await reads() == [
        (doctor.id, {"from_seq": 1, "to_seq": 1}, str(consultation.id)),
        (admin.id, {"from_seq": 1, "to_seq": 1}, str(consultation.id)),
    ]
    await clinic.client.get(f"/api/consultations/{consultation.id}/notes", headers=admin.headers)
    notes_reads = await session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "consultation.notes_read", AuditEntry.actor_id == admin.id)
    )
    assert notes_reads == 1


async def test_events_are_published_after_commit_and_never_for_a_rollback(
    clinic: Clinic, runtime: Runtime, published: Published
) -> None:
    patient, _, consultation = await active(clinic)
    before = len(published.events)

    async def send_then_fail() -> None:
        async with runtime.transaction() as tx:
            await consultations.send_message(
                session=tx,
                actor=patient.user,
                consultation_id=consultation.id,
                client_id="doomed",
                body="never stored",
            )
            assert len(published.events) == before  # nothing before the commit
            raise RuntimeError("the request failed after the send")

    with pytest.raises(RuntimeError):
        await send_then_fail()
    assert len(published.events) == before
    kept = await clinic.send(patient, consultation.id, "stored", client_id="doomed")
    assert kept.status_code == 201
    assert kept.json()["seq"] == 2  # the rolled-back send gave its number back
    assert published.events[-1].seq == 2
    assert all(published.stored_when_published)


async def test_joining_is_said_once_per_person(clinic: Clinic, published: Published) -> None:
    patient, doctor, consultation = await active(clinic)
    path = f"/api/consultations/{consultation.id}/join"
    first = await clinic.client.post(path, headers=patient.headers)
    again = await clinic.client.post(path, headers=patient.headers)
    doctor_joins = await clinic.client.post(path, headers=doctor.headers)
    assert (first.status_code, again.status_code, doctor_joins.status_code) == (201, 200, 201)
    assert first.json() == again.json()
    assert first.json()["kind"] == "system"
    assert first.json()["body"] == "joined"
    assert first.json()["sender_id"] == str(patient.id)
    assert [first.json()["seq"], doctor_joins.json()["seq"]] == [2, 3]
    pending = await clinic.consultation(patient, doctor)
    refused = await clinic.client.post(
        f"/api/consultations/{pending.id}/join", headers=patient.headers
    )
    assert refused.status_code == 409


# --- the socket topic ------------------------------------------------------------------------


async def test_the_consultation_topic_authorizes_replays_and_sends(
    clinic: Clinic, runtime: Runtime, published: Published
) -> None:
    patient, doctor, consultation = await active(clinic)
    outsider = await clinic.doctor()
    topic = ConsultationTopic()
    assert isinstance(topic, AcceptsSends)
    key = str(consultation.id)

    async with runtime.transaction() as tx:
        assert await topic.authorize(session=tx, user=patient.user, key=key)
        assert await topic.authorize(session=tx, user=doctor.user, key=key)
        assert not await topic.authorize(session=tx, user=outsider.user, key=key)
        assert not await topic.authorize(session=tx, user=patient.user, key=str(uuid.uuid4()))
        assert not await topic.authorize(session=tx, user=patient.user, key="not-a-uuid")

    def frame(payload: dict[str, Any]) -> list[Incoming]:
        return [Incoming(user=patient.user, key=key, payload=payload)]

    async with runtime.transaction() as tx:
        (sent,) = await topic.send(
            session=tx,
            sends=frame(
                {"op": "send", "topic": f"consultation:{key}", "client_id": "s1", "body": "hi"}
            ),
        )
    assert isinstance(sent, dict)
    assert set(sent) == MESSAGE_FIELDS
    assert sent["seq"] == 2
    async with runtime.transaction() as tx:
        (resent,) = await topic.send(session=tx, sends=frame({"client_id": "s1", "body": "hi"}))
    assert resent == sent
    for payload in ({"client_id": "s2"}, {"client_id": "s2", "body": "x" * 4001}, {}):
        async with runtime.transaction() as tx:
            (refused,) = await topic.send(session=tx, sends=frame(payload))
        assert isinstance(refused, AppError)
        assert refused.code.value == "validation_error"

    for n in range(3, 6):
        await clinic.send(doctor, consultation.id, f"m{n}")
    async with runtime.transaction() as tx:
        events = await topic.replay(session=tx, user=patient.user, key=key, since=2, limit=2)
    assert [(e.type, e.seq, e.topic) for e in events] == [
        ("message.created", 3, f"consultation:{key}"),
        ("message.created", 4, f"consultation:{key}"),
    ]
    assert dict(events[0].data) == dict(
        next(e for e in published.of_type("message.created") if e.seq == 3).data
    )
    async with runtime.transaction() as tx:
        everything = await topic.replay(
            session=tx, user=patient.user, key=key, since=None, limit=50
        )
    assert [e.seq for e in everything] == [1, 2, 3, 4, 5]


async def test_a_doctors_socket_catch_up_is_audited_only_when_it_returns_messages(
    clinic: Clinic, runtime: Runtime, session: AsyncSession
) -> None:
    _, doctor, consultation = await active(clinic)
    topic = ConsultationTopic()
    async with runtime.transaction() as tx:
        await topic.replay(
            session=tx, user=doctor.user, key=str(consultation.id), since=None, limit=50
        )
    async with runtime.transaction() as tx:
        await topic.replay(
            session=tx, user=doctor.user, key=str(consultation.id), since=1, limit=50
        )
    count = await session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "consultation.messages_read")
    )
    assert count == 1
