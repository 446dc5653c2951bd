"""The desk's queue cards (issue 18): the front desk calls the next patient and calls one
again for the doctor, marks a patient who missed their turn as arrived, gives a no-show a
new token and cancels a token, each through the queue's own verbs; a patient, or a doctor of
another queue, may do none of it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from clinicflow.consultations.models import Consultation
from clinicflow.core.audit import AuditEntry
from clinicflow.identity.models import User
from clinicflow.runtime import Runtime
from tests.conftest import Published
from tests.queue.clinic import AFTERNOON, QueueClinic


async def _three_waiting(
    clinic: QueueClinic,
) -> tuple[User, dict[str, str], dict[str, str], list[dict[str, Any]]]:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    for n in range(3):
        made = await clinic.walk_in(desk, doctor, f"+2547410000{n:02d}")
        assert made.status_code == 201, made.text
    return doctor, doctor_headers, desk, (await clinic.queue(doctor, desk))["entries"]


async def test_the_desk_calls_the_next_patient_to_the_doctor_and_calls_again(
    clinic: QueueClinic, runtime: Runtime, events: Published
) -> None:
    doctor, _doctor_headers, desk, _entries = await _three_waiting(clinic)
    called = await clinic.act(desk, f"{doctor.id}/call-next")
    assert called.status_code == 200, called.text
    assert (called.json()["token"], called.json()["status"]) == (1, "in_consultation")
    # The visit is the doctor's, though the desk called: the doctor writes its note.
    async with runtime.transaction(write=False) as session:
        visit = await session.get_one(Consultation, uuid.UUID(called.json()["consultation_id"]))
        assert (visit.doctor_id, visit.status.value) == (doctor.id, "active")
    # A second call while the patient is with the doctor is refused, as for the doctor.
    busy = await clinic.act(desk, f"{doctor.id}/call-next")
    assert (busy.status_code, busy.json()["error"]["code"]) == (409, "doctor_busy")
    again = await clinic.act(desk, f"entries/{called.json()['id']}/recall")
    assert again.status_code == 200, again.text
    await events.wait_for(lambda e: e.type == "queue.updated" and e.data["recalled_token"] == 1)
    async with runtime.transaction(write=False) as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.resource_id == called.json()["id"])
                .order_by(AuditEntry.seq)
            )
        )
    assert actions[-2:] == ["queue.call", "queue.recall"]


async def test_the_desk_cancels_a_waiting_or_missed_token_and_the_doctor_cannot_undo_it(
    clinic: QueueClinic, runtime: Runtime
) -> None:
    doctor, doctor_headers, desk, entries = await _three_waiting(clinic)
    first, second, third = entries
    cancelled = await clinic.act(desk, f"entries/{second['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "no_show"
    assert (await clinic.queue(doctor, desk))["order"] == [1, 3]
    # A patient the doctor skipped, and then left: cancelled, and the doctor's undo of that
    # skip no longer brings the token back.
    assert (await clinic.act(doctor_headers, f"entries/{first['id']}/no-show")).is_success
    assert (await clinic.act(desk, f"entries/{first['id']}/cancel")).status_code == 200
    undo = await clinic.act(doctor_headers, f"{doctor.id}/undo")
    assert (undo.status_code, undo.json()["error"]["code"]) == (409, "nothing_to_undo")
    assert (await clinic.queue(doctor, desk))["order"] == [3]
    # The patient with the doctor is not cancelled (the doctor finishes or skips them).
    called = await clinic.act(desk, f"{doctor.id}/call-next")
    assert called.json()["id"] == third["id"]
    refused = await clinic.act(desk, f"entries/{third['id']}/cancel")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "invalid_transition")
    async with runtime.transaction(write=False) as session:
        audited = await session.scalar(
            select(AuditEntry.details).where(
                AuditEntry.action == "queue.cancel", AuditEntry.resource_id == second["id"]
            )
        )
    assert audited == {"token": 2}


async def test_a_missed_patient_marked_arrived_takes_the_place_back_and_a_no_show_a_new_token(
    clinic: QueueClinic,
) -> None:
    doctor, doctor_headers, desk, entries = await _three_waiting(clinic)
    first, second, _third = entries
    assert (await clinic.act(doctor_headers, f"entries/{first['id']}/no-show")).is_success
    # Arrived within the grace period: the same token, first again.
    back = await clinic.act(desk, f"entries/{first['id']}/requeue", {"reason": "arrived late"})
    assert back.status_code == 201, back.text
    assert (back.json()["id"], back.json()["token"]) == (first["id"], 1)
    assert (await clinic.queue(doctor, desk))["order"] == [1, 2, 3]
    # Cancelled, then back at the desk: a new token at the end.
    assert (await clinic.act(desk, f"entries/{second['id']}/cancel")).status_code == 200
    new = await clinic.act(desk, f"entries/{second['id']}/requeue")
    assert new.status_code == 201, new.text
    assert new.json()["token"] == 4
    assert (await clinic.queue(doctor, desk))["order"] == [1, 3, 4]
    # Only once: the patient holds a place again.
    twice = await clinic.act(desk, f"entries/{second['id']}/requeue")
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "already_in_queue")


async def test_a_patient_or_a_doctor_of_another_queue_uses_no_card(clinic: QueueClinic) -> None:
    doctor, _doctor_headers, desk, entries = await _three_waiting(clinic)
    _other_doctor, other_doctor = await clinic.doctor()
    _stranger, stranger = await clinic.patient()
    entry = entries[0]
    for headers in (other_doctor, stranger):
        assert (await clinic.act(headers, f"{doctor.id}/call-next")).status_code == 403
        for action in ("recall", "cancel", "requeue"):
            # Not theirs to see: the same not-found as a missing place.
            refused = await clinic.act(headers, f"entries/{entry['id']}/{action}")
            assert refused.status_code == 404, (action, refused.text)
    # The place's own patient sees it, and may not call or cancel it either.
    _patient, own, place = await clinic.booked_and_checked_in(desk, doctor, AFTERNOON[0])
    assert (await clinic.act(own, f"{doctor.id}/call-next")).status_code == 403
    for action in ("recall", "cancel"):
        refused = await clinic.act(own, f"entries/{place['id']}/{action}")
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    assert (await clinic.queue(doctor, desk))["order"] == [1, 2, 3, 4]
