"""Missed turns with the frozen clock: the grace period, arriving late, and new tokens."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.queue import service as queues
from clinicflow.runtime import Runtime
from tests.queue.clinic import AFTERNOON, QueueClinic


async def _sweep(runtime: Runtime) -> int:
    async with runtime.transaction() as session:
        return await queues.expire_skipped(session=session)


async def _three_waiting(
    clinic: QueueClinic,
) -> tuple[User, dict[str, str], dict[str, str], dict[str, Any], dict[str, str]]:
    """A doctor with a booked patient checked in as token 1 and two walk-ins after."""
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    _patient, headers, entry = await clinic.booked_and_checked_in(desk, doctor, AFTERNOON[0])
    for n in range(2):
        assert (await clinic.walk_in(desk, doctor, f"+25473000000{n}")).status_code == 201
    return doctor, doctor_headers, desk, entry, headers


async def test_a_skipped_patient_keeps_their_place_for_the_grace_period_then_is_a_no_show(
    clinic: QueueClinic, frozen_clock: FrozenClock, runtime: Runtime
) -> None:
    doctor, doctor_headers, _desk, entry, headers = await _three_waiting(clinic)
    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert called.json()["id"] == entry["id"]
    skipped = await clinic.act(doctor_headers, f"entries/{entry['id']}/no-show")
    assert skipped.status_code == 200, skipped.text
    assert skipped.json()["status"] == "skipped"

    frozen_clock.advance(minutes=9, seconds=59)
    assert await _sweep(runtime) == 0
    frozen_clock.advance(seconds=1)
    assert await _sweep(runtime) == 1
    mine = (await clinic.client.get("/api/queue/me", headers=await clinic.renew(headers))).json()
    assert [e["status"] for e in mine] == ["no_show"]
    appointment = await clinic.client.get(
        f"/api/appointments/{entry['appointment_id']}", headers=await clinic.front_desk()
    )
    assert appointment.json()["status"] == "no_show"


async def test_arriving_within_the_grace_period_takes_the_same_place_back(
    clinic: QueueClinic, frozen_clock: FrozenClock
) -> None:
    _doctor, doctor_headers, desk, entry, _headers = await _three_waiting(clinic)
    assert (await clinic.act(doctor_headers, f"entries/{entry['id']}/no-show")).status_code == 200
    frozen_clock.advance(minutes=5)
    back = await clinic.client.post(
        "/api/queue/check-in", json={"appointment_id": entry["appointment_id"]}, headers=desk
    )
    assert back.status_code == 200, back.text
    assert (back.json()["token"], back.json()["status"], back.json()["position"]) == (
        1,
        "waiting",
        0,
    )


async def test_a_new_token_after_a_no_show_goes_to_the_end_and_is_written_in_the_history(
    clinic: QueueClinic, frozen_clock: FrozenClock, runtime: Runtime, session: Any
) -> None:
    _doctor, doctor_headers, _desk, entry, headers = await _three_waiting(clinic)
    assert (await clinic.act(doctor_headers, f"entries/{entry['id']}/no-show")).status_code == 200
    frozen_clock.advance(minutes=11)
    await _sweep(runtime)
    headers = await clinic.renew(headers)
    requeued = await clinic.act(headers, f"entries/{entry['id']}/requeue", {"reason": "Traffic"})
    assert requeued.status_code == 201, requeued.text
    new = requeued.json()
    assert (new["token"], new["status"], new["position"], new["source"]) == (
        4,
        "waiting",
        2,
        "requeue",
    )
    history = await clinic.client.get(f"/api/queue/entries/{new['id']}/history", headers=headers)
    assert [(h["old_token"], h["new_token"], h["reason"]) for h in history.json()] == [
        (1, 4, "Traffic")
    ]
    appointment = (
        await clinic.client.get(f"/api/appointments/{entry['appointment_id']}", headers=headers)
    ).json()
    assert appointment["status"] == "checked_in"
    assert appointment["late_arrivals"] == 1
    again = await clinic.act(headers, f"entries/{entry['id']}/requeue")
    assert again.status_code == 409
    actions = list(await session.scalars(select(AuditEntry.action)))
    assert "queue.requeue" in actions


async def test_requeue_is_refused_while_the_patient_still_waits(clinic: QueueClinic) -> None:
    _doctor, _doctor_headers, _desk, entry, headers = await _three_waiting(clinic)
    refused = await clinic.act(headers, f"entries/{entry['id']}/requeue")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "invalid_transition"


async def test_arriving_after_the_grace_period_gives_a_new_token_even_before_the_sweep(
    clinic: QueueClinic, frozen_clock: FrozenClock
) -> None:
    _doctor, doctor_headers, desk, entry, _headers = await _three_waiting(clinic)
    assert (await clinic.act(doctor_headers, f"entries/{entry['id']}/no-show")).status_code == 200
    frozen_clock.advance(minutes=10)
    desk = await clinic.front_desk()
    late = await clinic.client.post(
        "/api/queue/check-in", json={"appointment_id": entry["appointment_id"]}, headers=desk
    )
    assert late.status_code == 201, late.text
    assert (late.json()["token"], late.json()["position"], late.json()["source"]) == (
        4,
        2,
        "requeue",
    )
    history = await clinic.client.get(
        f"/api/queue/entries/{late.json()['id']}/history", headers=desk
    )
    assert [(h["old_token"], h["new_token"], h["reason"]) for h in history.json()] == [
        (1, 4, "arrived late")
    ]


async def test_undo_of_a_no_show_expired_into_a_new_token_is_refused_not_doubled(
    clinic: QueueClinic, frozen_clock: FrozenClock, runtime: Runtime
) -> None:
    """A grace period under the 2-minute undo window: skip, the sweep's no-show, a new
    token, then undo. The old place cannot wait again beside the new one: 409, nothing
    changed."""
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    admin = await clinic.staff(Role.admin)
    rules = await clinic.client.put(
        "/api/admin/queue-rules", json={"no_show_grace_minutes": 1}, headers=admin
    )
    assert rules.status_code == 200, rules.text
    first = (await clinic.walk_in(desk, doctor, "+254790000001")).json()
    assert (await clinic.walk_in(desk, doctor, "+254790000002")).status_code == 201
    assert (await clinic.act(doctor_headers, f"entries/{first['id']}/no-show")).is_success
    frozen_clock.advance(minutes=1)
    assert await _sweep(runtime) == 1
    new = await clinic.act(desk, f"entries/{first['id']}/requeue")
    assert new.status_code == 201, new.text

    undone = await clinic.act(doctor_headers, f"{doctor.id}/undo")
    assert undone.status_code == 409, undone.text
    assert undone.json()["error"]["code"] == "already_in_queue"
    queue = await clinic.queue(doctor, desk)
    assert [(e["token"], e["status"]) for e in queue["entries"]] == [
        (1, "no_show"),
        (2, "waiting"),
        (3, "waiting"),
    ]


async def test_undo_of_a_recall_gives_a_skipped_patient_their_grace_period_back(
    clinic: QueueClinic, frozen_clock: FrozenClock, runtime: Runtime
) -> None:
    """Recalled, then the recall undone: skipped again since the first skip, so the sweep
    still ends the grace period at the same time."""
    doctor, doctor_headers, _desk, entry, _headers = await _three_waiting(clinic)
    skipped = await clinic.act(doctor_headers, f"entries/{entry['id']}/no-show")
    assert skipped.status_code == 200, skipped.text
    frozen_clock.advance(seconds=30)
    assert (await clinic.act(doctor_headers, f"entries/{entry['id']}/recall")).is_success
    undone = await clinic.act(doctor_headers, f"{doctor.id}/undo")
    assert (undone.status_code, undone.json()["status"]) == (200, "skipped")
    assert undone.json()["skipped_at"] == skipped.json()["skipped_at"]

    frozen_clock.advance(minutes=9, seconds=29)
    assert await _sweep(runtime) == 0
    frozen_clock.advance(seconds=1)
    assert await _sweep(runtime) == 1
    queue = await clinic.queue(doctor, await clinic.front_desk())
    assert queue["entries"][0]["status"] == "no_show"


async def test_recalling_a_no_show_who_has_a_new_token_is_refused_not_doubled(
    clinic: QueueClinic, frozen_clock: FrozenClock, runtime: Runtime
) -> None:
    """The new token stands: calling the old place again would give the patient two."""
    doctor, doctor_headers, desk, entry, _headers = await _three_waiting(clinic)
    await clinic.act(doctor_headers, f"entries/{entry['id']}/no-show")
    frozen_clock.advance(minutes=10)
    assert await _sweep(runtime) == 1
    desk = await clinic.front_desk()
    new = await clinic.act(desk, f"entries/{entry['id']}/requeue")
    assert new.status_code == 201, new.text
    recalled = await clinic.act(doctor_headers, f"entries/{entry['id']}/recall")
    assert recalled.status_code == 409, recalled.text
    assert recalled.json()["error"]["code"] == "already_in_queue"
    assert recalled.json()["error"]["details"] == {"token": new.json()["token"]}
    statuses = {e["id"]: e["status"] for e in (await clinic.queue(doctor, desk))["entries"]}
    assert (statuses[entry["id"]], statuses[new.json()["id"]]) == ("no_show", "waiting")
