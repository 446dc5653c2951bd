"""Tokens: 1, 2, 3 … per queue, never twice and never skipped, however many join at once."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinicflow.core.clock import FrozenClock
from tests.queue.clinic import AFTERNOON, QueueClinic


async def test_200_concurrent_walk_ins_get_tokens_1_to_200(clinic: QueueClinic) -> None:
    doctor, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    answers = await asyncio.gather(
        *[clinic.walk_in(desk, doctor, f"+2547100{n:05d}") for n in range(200)]
    )
    assert {a.status_code for a in answers} == {201}
    assert sorted(a.json()["token"] for a in answers) == list(range(1, 201))
    queue = await clinic.queue(doctor, desk)
    assert queue["order"] == list(range(1, 201))
    assert [e["position"] for e in queue["entries"]] == list(range(200))


async def test_concurrent_joins_of_one_patient_give_one_place_and_no_gap(
    clinic: QueueClinic,
) -> None:
    doctor, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    phones = ["+254711000001"] * 20 + [f"+2547120000{n:02d}" for n in range(20)]
    answers = await asyncio.gather(*[clinic.walk_in(desk, doctor, phone) for phone in phones])
    created = [a.json()["token"] for a in answers if a.status_code == 201]
    refused = [a.json()["error"]["code"] for a in answers if a.status_code != 201]
    assert sorted(created) == list(range(1, 22))
    assert refused == ["already_in_queue"] * 19


async def test_a_check_in_twice_answers_the_same_place(clinic: QueueClinic) -> None:
    doctor, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    _patient, headers, entry = await clinic.booked_and_checked_in(desk, doctor, AFTERNOON[1])
    again = await clinic.client.post(
        "/api/queue/check-in", json={"appointment_id": entry["appointment_id"]}, headers=desk
    )
    assert again.status_code == 200
    assert again.json()["id"] == entry["id"]
    appointment = await clinic.client.get(
        f"/api/appointments/{entry['appointment_id']}", headers=headers
    )
    assert appointment.json()["status"] == "checked_in"


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batches=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=4))
async def test_tokens_are_gap_free_over_any_sequence_of_concurrent_batches(
    clinic: QueueClinic, frozen_clock: FrozenClock, batches: list[int]
) -> None:
    doctor, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    given_tokens: list[int] = []
    for batch in batches:
        answers = await asyncio.gather(
            *[
                clinic.walk_in(desk, doctor, f"+2548{len(given_tokens) + n:08d}")
                for n in range(batch)
            ]
        )
        assert {a.status_code for a in answers} == {201}
        given_tokens += [a.json()["token"] for a in answers]
    assert sorted(given_tokens) == list(range(1, len(given_tokens) + 1))
