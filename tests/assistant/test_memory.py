"""Each consultation's memory, with both stores (database, and Redis when the run has it):
never seen from another consultation, kept by the doctor alone, and forgotten by the worker
30 days after the consultation closed."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import worker
from clinicflow.assistant.memory_stores import RedisMemoryStore
from clinicflow.assistant.models import MemoryRow
from clinicflow.config import Settings
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.core import clock
from clinicflow.core.audit import AuditEntry
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.assistant.conftest import Chat
from tests.conftest import TEST_REDIS_URL

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture(params=["database", "redis"])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    if request.param == "redis":
        if not TEST_REDIS_URL:
            pytest.skip("the Redis store is tested when TEST_REDIS_URL is set")
        return settings.model_copy(update={"redis_url": TEST_REDIS_URL})
    return settings.model_copy(update={"redis_url": None})


def memory_url(consultation_id: uuid.UUID, item: str = "") -> str:
    return f"/api/consultations/{consultation_id}/assistant/memory" + (f"/{item}" if item else "")


async def test_memory_of_one_consultation_never_appears_in_another(
    chat: Chat, runtime: Runtime, session: AsyncSession
) -> None:
    client = chat.clinic.client
    other_patient = await chat.clinic.patient()
    other = await chat.clinic.consultation(other_patient, chat.doctor, ConsultationStatus.active)

    await chat.ask(chat.doctor, "@b remember warfarin 5 mg nightly, INR weekly")
    await chat.say(chat.patient, "The warfarin makes me bruise")
    await chat.ask(chat.doctor, "@b remember knee swelling on the left", other.id)

    recall = await chat.ask(chat.doctor, "@b what did I say about warfarin", other.id)
    assert "warfarin 5 mg" not in recall["body"]
    assert "bruise" not in recall["body"]
    assert 'nothing about "warfarin"' in recall["body"]
    summary = await chat.ask(chat.doctor, "@b summary", other.id)
    assert "warfarin" not in summary["body"].lower()
    assert "knee swelling" in summary["body"]
    here = await chat.ask(chat.doctor, "@b what did I say about warfarin")
    assert "warfarin 5 mg nightly, INR weekly" in here["body"]
    assert "knee" not in here["body"]

    mine = (await client.get(memory_url(chat.id), headers=chat.doctor.headers)).json()["items"]
    theirs = (await client.get(memory_url(other.id), headers=chat.doctor.headers)).json()["items"]
    assert [i["text"] for i in mine] == ["warfarin 5 mg nightly, INR weekly"]
    assert [i["text"] for i in theirs] == ["knee swelling on the left"]
    # An item reached through the other consultation's address does not exist there.
    item = mine[0]["id"]
    patched = await client.patch(
        memory_url(other.id, item), json={"text": "changed"}, headers=chat.doctor.headers
    )
    assert patched.status_code == 404
    deleted = await client.delete(memory_url(other.id, item), headers=chat.doctor.headers)
    assert deleted.status_code == 404
    again = (await client.get(memory_url(chat.id), headers=chat.doctor.headers)).json()["items"]
    assert [i["text"] for i in again] == ["warfarin 5 mg nightly, INR weekly"]

    rows = await session.scalar(select(func.count()).select_from(MemoryRow))
    if runtime.redis is not None:
        assert rows == 0
        assert await runtime.redis.exists(RedisMemoryStore.key(chat.id))
        ttl = await runtime.redis.ttl(RedisMemoryStore.key(chat.id))
        assert 0 < ttl <= runtime.settings.assistant_memory_ttl_days * 86400
    else:
        assert rows == 2
        stored = await session.scalar(text("SELECT text FROM assistant_memory LIMIT 1"))
        assert "warfarin" not in str(stored)
        assert "knee" not in str(stored)


async def test_the_doctor_sees_edits_and_deletes_memory_and_no_one_else_does(
    chat: Chat, session: AsyncSession
) -> None:
    client = chat.clinic.client
    seq = await chat.say(chat.patient, "I take ibuprofen twice a day")
    marked = await client.post(
        memory_url(chat.id), json={"message_seq": seq}, headers=chat.doctor.headers
    )
    assert marked.status_code == 201, marked.text
    assert (marked.json()["text"], marked.json()["source_seq"]) == (
        "I take ibuprofen twice a day",
        seq,
    )
    written = await client.post(
        memory_url(chat.id),
        json={"text": "Advise paracetamol instead"},
        headers=chat.doctor.headers,
    )
    assert written.status_code == 201
    item = written.json()["id"]
    edited = await client.patch(
        memory_url(chat.id, item),
        json={"text": "Advise paracetamol 1 g"},
        headers=chat.doctor.headers,
    )
    assert edited.json()["text"] == "Advise paracetamol 1 g"

    stranger = await chat.clinic.doctor()
    admin = await chat.clinic.staff(Role.admin)
    for person, status in ((chat.patient, 403), (stranger, 404), (admin, 403)):
        assert (await client.get(memory_url(chat.id), headers=person.headers)).status_code == status
        added = await client.post(memory_url(chat.id), json={"text": "x"}, headers=person.headers)
        assert added.status_code == status
        gone = await client.delete(memory_url(chat.id, item), headers=person.headers)
        assert gone.status_code == status
    assert (await client.get(memory_url(chat.id))).status_code == 404

    assert (
        await client.delete(memory_url(chat.id, item), headers=chat.doctor.headers)
    ).status_code == 204
    items = (await client.get(memory_url(chat.id), headers=chat.doctor.headers)).json()["items"]
    assert [i["text"] for i in items] == ["I take ibuprofen twice a day"]
    actions = list(
        await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.like("assistant.memory_%"))
            .order_by(AuditEntry.seq)
        )
    )
    assert actions[:4] == [
        "assistant.memory_add",
        "assistant.memory_add",
        "assistant.memory_update",
        "assistant.memory_delete",
    ]
    assert "assistant.memory_read" in actions


async def test_a_memory_change_is_audited_with_the_address_it_came_from(
    chat: Chat, session: AsyncSession
) -> None:
    """No verb takes the client's address: the request binds it to its unit of work
    (`audit.bind_address`) and each audit row written in it reads it from there."""
    added = await chat.clinic.client.post(
        memory_url(chat.id), json={"text": "Recheck BP in a week"}, headers=chat.doctor.headers
    )
    assert added.status_code == 201, added.text
    rows = await session.execute(
        select(AuditEntry.ip, AuditEntry.actor_id).where(
            AuditEntry.action == "assistant.memory_add"
        )
    )
    assert [tuple(row) for row in rows] == [("203.0.113.7", chat.doctor.id)]


async def test_bad_memory_input_is_refused(chat: Chat) -> None:
    client = chat.clinic.client
    for body in ({}, {"text": ""}, {"text": "x" * 2001}, {"message_seq": 0}):
        response = await client.post(memory_url(chat.id), json=body, headers=chat.doctor.headers)
        assert response.status_code == 422, body
    missing = await client.post(
        memory_url(chat.id), json={"message_seq": 999}, headers=chat.doctor.headers
    )
    assert missing.status_code == 404


async def test_the_worker_forgets_memory_30_days_after_the_consultation_closed(
    chat: Chat, runtime: Runtime, frozen_clock: clock.FrozenClock
) -> None:
    client = chat.clinic.client
    recent_patient = await chat.clinic.patient()
    recent = await chat.clinic.consultation(recent_patient, chat.doctor, ConsultationStatus.active)
    for consultation_id in (chat.id, recent.id):
        added = await client.post(
            memory_url(consultation_id), json={"text": "follow up"}, headers=chat.doctor.headers
        )
        assert added.status_code == 201
    await client.post(f"/api/consultations/{chat.id}/end", headers=chat.doctor.headers)
    frozen_clock.advance(minutes=2 * 24 * 60)
    await client.post(f"/api/consultations/{recent.id}/end", headers=chat.doctor.headers)

    job = next(job for job in worker.JOBS if job.name == "assistant.forget_closed_memory")
    frozen_clock.advance(minutes=29 * 24 * 60)
    assert await worker.run_once(runtime, job)
    items = (await client.get(memory_url(chat.id), headers=chat.doctor.headers)).json()["items"]
    assert items == []
    kept = (await client.get(memory_url(recent.id), headers=chat.doctor.headers)).json()["items"]
    assert [i["text"] for i in kept] == ["follow up"]


async def test_redis_keys_are_scoped_by_consultation(chat: Chat, runtime: Runtime) -> None:
    if runtime.redis is None:
        pytest.skip("Redis store only")
    await chat.ask(chat.doctor, "@b remember scoped")
    redis: Redis = runtime.redis
    keys = [key.decode() async for key in redis.scan_iter("clinicflow:assistant:memory:*")]
    assert keys == [RedisMemoryStore.key(chat.id)]
    raw = await redis.hvals(RedisMemoryStore.key(chat.id))  # type: ignore[misc]
    assert b"scoped" not in raw[0]
