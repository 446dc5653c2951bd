"""The push: each mutation through the same verb as online, at most once per client id."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.queue.models import QueueEntry
from clinicflow.scheduling.models import Appointment
from clinicflow.sync.models import AppliedMutation
from tests.queue.clinic import AFTERNOON
from tests.scheduling.clinic import TUESDAY_9
from tests.sync.clinic import SyncClinic, cancel, check_in, walk_in


async def _entries(session: AsyncSession) -> int:
    return (await session.scalar(select(func.count()).select_from(QueueEntry))) or 0


async def test_a_walk_in_applies_once_and_a_resend_answers_the_first_result(
    clinic: SyncClinic, session: AsyncSession
) -> None:
    doctor, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    first = await clinic.push(desk, walk_in("w-1", doctor.id, "+254712000001"))
    assert first[0]["status"] == "applied", first
    assert first[0]["result"]["token"] == 1
    again = await clinic.push(desk, walk_in("w-1", doctor.id, "+254712000001"))
    assert again == [{**first[0], "status": "duplicate", "error": None}]
    assert await _entries(session) == 1


async def test_two_desks_registering_one_phone_give_one_place_and_one_duplicate(
    clinic: SyncClinic, session: AsyncSession
) -> None:
    doctor, _ = await clinic.doctor()
    one, two = await clinic.front_desk(), await clinic.front_desk()
    (a,) = await clinic.push(one, walk_in("a", doctor.id, "+254712000002", "Amina"))
    (b,) = await clinic.push(two, walk_in("b", doctor.id, "+254712000002", "Amina W"))
    assert (a["status"], b["status"]) == ("applied", "duplicate")
    assert a["result"]["id"] == b["result"]["id"]
    assert await _entries(session) == 1


async def test_a_refused_mutation_is_rejected_stored_nowhere_and_the_batch_goes_on(
    clinic: SyncClinic, session: AsyncSession
) -> None:
    doctor, _ = await clinic.doctor()
    _patient, headers = await clinic.patient()
    desk = await clinic.front_desk()
    # A patient cannot register walk-ins online, so not by sync either.
    (refused,) = await clinic.push(headers, walk_in("p-1", doctor.id, "+254712000003"))
    assert refused["status"] == "rejected"
    assert refused["error"]["code"] == "forbidden"
    incomplete, fine = await clinic.push(
        desk,
        {"client_id": "bad", "type": "walk_in", "data": {"phone": "+254712000004"}},
        walk_in("good", doctor.id, "+254712000004"),
    )
    assert incomplete["status"] == "rejected"
    assert incomplete["error"]["code"] == "validation_error"
    assert fine["status"] == "applied"
    stored = await session.scalars(select(AppliedMutation.client_id))
    assert sorted(stored) == ["good"]


async def test_a_cancel_against_an_older_version_is_a_conflict_with_the_current_state(
    clinic: SyncClinic, session: AsyncSession
) -> None:
    doctor, _ = await clinic.doctor()
    _patient, headers = await clinic.patient()
    booked = (await clinic.book(headers, doctor, TUESDAY_9)).json()
    assert booked["version"] == 1
    desk = await clinic.front_desk()
    moved = await clinic.client.post(
        f"/api/appointments/{booked['id']}/reschedule",
        json={"starts_at": "2026-03-03T06:30:00+00:00"},
        headers=desk,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["version"] == 2
    (answer,) = await clinic.push(headers, cancel("c-1", booked["id"], base_version=1))
    assert answer["status"] == "conflict"
    assert answer["result"]["starts_at"] == "2026-03-03T06:30:00Z"
    assert answer["result"]["status"] == "booked"
    assert answer["result"]["version"] == 2
    (applied,) = await clinic.push(headers, cancel("c-2", booked["id"], base_version=2))
    assert applied["status"] == "applied"
    assert applied["result"]["status"] == "cancelled"
    row = await session.get(Appointment, uuid.UUID(booked["id"]))
    assert row is not None
    assert row.version == 3


async def test_a_check_in_pushed_twice_by_two_desks_gives_one_place(
    clinic: SyncClinic, session: AsyncSession
) -> None:
    doctor, _ = await clinic.doctor()
    _patient, headers = await clinic.patient()
    booked = (await clinic.book(headers, doctor, AFTERNOON[4])).json()
    one, two = await clinic.front_desk(), await clinic.front_desk()
    (a,) = await clinic.push(one, check_in("k", booked["id"], base_version=1))
    (b,) = await clinic.push(two, check_in("k", booked["id"], base_version=1))
    assert a["status"] == "applied", a
    # The second desk's copy was older than the check-in: it hears of it as a conflict.
    assert b["status"] == "conflict"
    assert b["result"]["status"] == "checked_in"
    (c,) = await clinic.push(two, check_in("k2", booked["id"]))
    assert c["status"] == "duplicate"
    assert c["result"]["id"] == a["result"]["id"]
    assert await _entries(session) == 1
