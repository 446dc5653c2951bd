"""A day of one doctor's queue through the HTTP API: joining, order, the doctor's controls."""

from __future__ import annotations

from clinicflow.core.clock import FrozenClock
from tests.queue.clinic import AFTERNOON, TODAY, QueueClinic


async def test_walk_ins_and_check_ins_take_tokens_in_order_and_see_their_position(
    clinic: QueueClinic,
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    first = await clinic.walk_in(desk, doctor, "+254700000101")
    assert first.status_code == 201, first.text
    _patient, headers, second = await clinic.booked_and_checked_in(desk, doctor, AFTERNOON[0])
    assert (first.json()["token"], second["token"]) == (1, 2)
    assert second["status"] == "waiting"
    assert second["position"] == 1
    assert second["estimated_wait_minutes"] == 15

    mine = await clinic.client.get("/api/queue/me", headers=headers)
    assert [(e["token"], e["position"]) for e in mine.json()] == [(2, 1)]
    seen_by_patient = await clinic.queue(doctor, headers)
    assert [e["token"] for e in seen_by_patient["entries"]] == [2]
    assert seen_by_patient["entries"][0]["patient_name"] is None
    staff_view = await clinic.queue(doctor, doctor_headers)
    assert [e["token"] for e in staff_view["entries"]] == [1, 2]
    assert staff_view["serving_token"] is None
    assert staff_view["date"] == TODAY


async def test_call_next_finish_and_the_average_wait(
    clinic: QueueClinic, frozen_clock: FrozenClock
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    for n in range(3):
        assert (await clinic.walk_in(desk, doctor, f"+25470000020{n}")).status_code == 201
    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert called.status_code == 200, called.text
    assert (called.json()["token"], called.json()["status"]) == (1, "in_consultation")
    busy = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "doctor_busy"
    frozen_clock.advance(minutes=12)
    finished = await clinic.act(doctor_headers, f"entries/{called.json()['id']}/finish")
    assert finished.status_code == 200, finished.text
    assert finished.json()["status"] == "completed"
    queue = await clinic.queue(doctor, desk)
    assert queue["serving_token"] == 1
    # One visit is not a pace yet: the doctor's usual 15 minutes stand until three are done.
    assert queue["average_minutes"] == 15
    assert [e["estimated_wait_minutes"] for e in queue["entries"] if e["status"] == "waiting"] == [
        0,
        15,
    ]
