"""The appointment follows its patient's place through scheduling's verbs, and only while it
can: one cancelled while its patient waited, or finished under a newer token, keeps its
status, and the queue's place goes on (no 409, no 500)."""

from __future__ import annotations

from typing import Any

from clinicflow.core.clock import FrozenClock
from clinicflow.queue import service as queues
from clinicflow.runtime import Runtime
from tests.queue.clinic import AFTERNOON, QueueClinic


async def _appointment(clinic: QueueClinic, appointment_id: str) -> dict[str, Any]:
    response = await clinic.client.get(
        f"/api/appointments/{appointment_id}", headers=await clinic.front_desk()
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _sweep(runtime: Runtime) -> int:
    async with runtime.transaction() as session:
        return await queues.expire_skipped(session=session)


async def _checked_in_then_cancelled(
    clinic: QueueClinic,
) -> tuple[Any, dict[str, str], dict[str, Any]]:
    """A doctor, and a patient checked in whose appointment the desk then cancels."""
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    _patient, _headers, entry = await clinic.booked_and_checked_in(desk, doctor, AFTERNOON[0])
    cancelled = await clinic.client.post(
        f"/api/appointments/{entry['appointment_id']}/cancel", headers=desk
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    return doctor, doctor_headers, entry


async def test_calling_a_patient_whose_appointment_was_cancelled_leaves_it_cancelled(
    clinic: QueueClinic,
) -> None:
    doctor, doctor_headers, entry = await _checked_in_then_cancelled(clinic)
    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert called.status_code == 200, called.text
    assert (called.json()["id"], called.json()["status"]) == (entry["id"], "in_consultation")
    assert (await _appointment(clinic, entry["appointment_id"]))["status"] == "cancelled"
    undone = await clinic.act(doctor_headers, f"{doctor.id}/undo")
    assert (undone.status_code, undone.json()["status"]) == (200, "waiting")
    await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    finished = await clinic.act(doctor_headers, f"entries/{entry['id']}/finish")
    assert (finished.status_code, finished.json()["status"]) == (200, "completed")
    assert (await _appointment(clinic, entry["appointment_id"]))["status"] == "cancelled"


async def test_missing_and_readmitting_a_patient_whose_appointment_was_cancelled(
    clinic: QueueClinic, frozen_clock: FrozenClock, runtime: Runtime
) -> None:
    _doctor, doctor_headers, entry = await _checked_in_then_cancelled(clinic)
    skipped = await clinic.act(doctor_headers, f"entries/{entry['id']}/no-show")
    assert (skipped.status_code, skipped.json()["status"]) == (200, "skipped")
    frozen_clock.advance(minutes=10)
    assert await _sweep(runtime) == 1
    desk = await clinic.front_desk()
    missed = (await clinic.client.get(f"/api/queue/{_doctor.id}", headers=desk)).json()
    assert [e["status"] for e in missed["entries"]] == ["no_show"]
    assert (await _appointment(clinic, entry["appointment_id"]))["status"] == "cancelled"

    requeued = await clinic.act(desk, f"entries/{entry['id']}/requeue")
    assert requeued.status_code == 201, requeued.text
    assert (requeued.json()["status"], requeued.json()["token"]) == ("waiting", 2)
    appointment = await _appointment(clinic, entry["appointment_id"])
    assert (appointment["status"], appointment["late_arrivals"]) == ("cancelled", 0)


async def test_a_new_token_after_the_appointment_was_completed_leaves_it_completed(
    clinic: QueueClinic, frozen_clock: FrozenClock, runtime: Runtime
) -> None:
    """An old no-show asks for a new token once the visit of their first new token is over:
    the new place waits and is seen; the appointment stays completed, counted late once."""
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    _patient, _headers, first = await clinic.booked_and_checked_in(desk, doctor, AFTERNOON[0])
    await clinic.act(doctor_headers, f"entries/{first['id']}/no-show")
    frozen_clock.advance(minutes=10)
    assert await _sweep(runtime) == 1
    desk = await clinic.front_desk()
    second = (await clinic.act(desk, f"entries/{first['id']}/requeue")).json()
    assert (await clinic.act(doctor_headers, f"{doctor.id}/call-next")).json()["id"] == second["id"]
    assert (await clinic.act(doctor_headers, f"entries/{second['id']}/finish")).is_success
    assert (await _appointment(clinic, first["appointment_id"]))["status"] == "completed"

    third = await clinic.act(desk, f"entries/{first['id']}/requeue")
    assert third.status_code == 201, third.text
    assert (third.json()["status"], third.json()["source"]) == ("waiting", "requeue")
    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert (called.json()["id"], called.json()["status"]) == (third.json()["id"], "in_consultation")
    finished = await clinic.act(doctor_headers, f"entries/{third.json()['id']}/finish")
    assert (finished.status_code, finished.json()["status"]) == (200, "completed")
    appointment = await _appointment(clinic, first["appointment_id"])
    assert (appointment["status"], appointment["late_arrivals"]) == ("completed", 1)
