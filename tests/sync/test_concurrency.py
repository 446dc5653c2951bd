"""Many pushes of the same mutations at once: each applies once (the database decides)."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.queue.models import QueueEntry
from clinicflow.sync.models import AppliedMutation
from tests.queue.clinic import AFTERNOON
from tests.sync.clinic import SyncClinic, cancel, check_in, walk_in


async def test_the_same_batch_pushed_many_times_at_once_applies_each_mutation_once(
    clinic: SyncClinic, session: AsyncSession
) -> None:
    doctor, _ = await clinic.doctor()
    _patient, patient_headers = await clinic.patient()
    booked = (await clinic.book(patient_headers, doctor, AFTERNOON[8])).json()
    other = (await clinic.book(patient_headers, doctor, AFTERNOON[9])).json()
    one, two = await clinic.front_desk(), await clinic.front_desk()
    phones = [f"+25411{n:07d}" for n in range(5)]
    batch_one = [walk_in(f"one-{n}", doctor.id, phone) for n, phone in enumerate(phones)]
    batch_one.append(check_in("one-k", booked["id"]))
    # The second desk registered the same people offline, under its own client ids.
    batch_two = [walk_in(f"two-{n}", doctor.id, phone) for n, phone in enumerate(phones)]
    batch_two.append(check_in("two-k", booked["id"]))
    cancels = [cancel("c", other["id"], base_version=1)]
    answers = await asyncio.gather(
        *[clinic.push(one, *batch_one) for _ in range(6)],
        *[clinic.push(two, *batch_two) for _ in range(6)],
        *[clinic.push(patient_headers, *cancels) for _ in range(6)],
    )
    statuses = Counter(r["status"] for results in answers for r in results)
    # One walk-in per person and one check-in applied; every other answer is a duplicate.
    assert statuses == {"applied": 7, "duplicate": 6 * 13 - 7}
    entries = await session.scalar(
        select(func.count()).select_from(QueueEntry).where(QueueEntry.doctor_id == doctor.id)
    )
    assert entries == 6
    by_id: dict[str, set[str]] = {}
    for results in answers:
        for result in results:
            by_id.setdefault(result["client_id"], set()).add(repr(result["result"]))
    # Every answer to one client id names the same result.
    assert all(len(seen) == 1 for seen in by_id.values()), by_id
    stored = await session.scalar(select(func.count()).select_from(AppliedMutation))
    assert stored == 13
