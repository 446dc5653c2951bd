"""The doctor's controls, moving by hand, rules, the meeting link and who may do what."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.notifications.models import Notification
from clinicflow.notifications.schemas import Kind
from clinicflow.queue import service as queues
from clinicflow.runtime import Runtime
from tests.conftest import Published
from tests.queue.clinic import AFTERNOON, TODAY, QueueClinic

MEET = "https://meet.google.com/abc-defg-hij"
NEW_MEET = "https://meet.google.com/xyz-wxyz-xyz"


async def _waiting(clinic: QueueClinic, count: int) -> tuple[Any, dict[str, str], dict[str, str]]:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    for n in range(count):
        assert (await clinic.walk_in(desk, doctor, f"+2547400000{n:02d}")).status_code == 201
    return doctor, doctor_headers, desk


async def test_undo_takes_back_the_last_call_within_two_minutes_only(
    clinic: QueueClinic, frozen_clock: FrozenClock
) -> None:
    doctor, doctor_headers, desk = await _waiting(clinic, 3)
    await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    frozen_clock.advance(seconds=119)
    undone = await clinic.act(doctor_headers, f"{doctor.id}/undo")
    assert undone.status_code == 200, undone.text
    assert (undone.json()["token"], undone.json()["status"]) == (1, "waiting")
    queue = await clinic.queue(doctor, desk)
    assert queue["serving_token"] is None
    assert queue["order"] == [1, 2, 3]

    await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    frozen_clock.advance(seconds=121)
    late = await clinic.act(doctor_headers, f"{doctor.id}/undo")
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "nothing_to_undo"


async def test_undo_of_a_no_show_puts_the_patient_back(clinic: QueueClinic) -> None:
    doctor, doctor_headers, desk = await _waiting(clinic, 2)
    first = (await clinic.queue(doctor, desk))["entries"][0]
    assert (await clinic.act(doctor_headers, f"entries/{first['id']}/no-show")).status_code == 200
    assert (await clinic.queue(doctor, desk))["order"] == [2]
    assert (await clinic.act(doctor_headers, f"{doctor.id}/undo")).status_code == 200
    assert (await clinic.queue(doctor, desk))["order"] == [1, 2]


async def test_a_paused_queue_calls_nobody_until_resumed(clinic: QueueClinic) -> None:
    doctor, doctor_headers, _desk = await _waiting(clinic, 1)
    paused = await clinic.act(doctor_headers, f"{doctor.id}/pause")
    assert paused.json()["paused"] is True
    refused = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "queue_paused")
    await clinic.act(doctor_headers, f"{doctor.id}/resume")
    assert (await clinic.act(doctor_headers, f"{doctor.id}/call-next")).status_code == 200


async def test_call_next_on_an_empty_queue_is_refused(clinic: QueueClinic) -> None:
    doctor, doctor_headers = await clinic.doctor()
    refused = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "queue_empty")


async def test_recall_calls_a_skipped_patient_again(clinic: QueueClinic, events: Published) -> None:
    doctor, doctor_headers, desk = await _waiting(clinic, 2)
    called = (await clinic.act(doctor_headers, f"{doctor.id}/call-next")).json()
    await clinic.act(doctor_headers, f"entries/{called['id']}/no-show")
    await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    busy = await clinic.act(doctor_headers, f"entries/{called['id']}/recall")
    assert busy.json()["error"]["code"] == "doctor_busy"
    second = (await clinic.queue(doctor, desk))["entries"][1]
    await clinic.act(doctor_headers, f"entries/{second['id']}/finish")
    recalled = await clinic.act(doctor_headers, f"entries/{called['id']}/recall")
    assert recalled.status_code == 200, recalled.text
    assert recalled.json()["status"] == "in_consultation"
    event = await events.wait_for(lambda e: e.data.get("recalled_token") == 1)
    assert event.data["serving_token"] == 1


async def test_an_online_patient_needs_the_doctors_link_which_is_copied_into_the_consultation(
    clinic: QueueClinic, frozen_clock: FrozenClock
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    _patient, headers, entry = await clinic.booked_and_checked_in(
        desk, doctor, AFTERNOON[2], mode="online"
    )
    assert entry["online"] is True
    refused = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert refused.json()["error"]["code"] == "meet_link_required"
    linked = await clinic.client.put(
        f"/api/doctors/{doctor.id}/meet-link", json={"meet_url": MEET}, headers=doctor_headers
    )
    assert linked.status_code == 200, linked.text
    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert called.status_code == 200, called.text
    consultation_id = called.json()["consultation_id"]
    consultation = (
        await clinic.client.get(f"/api/consultations/{consultation_id}", headers=headers)
    ).json()
    assert (consultation["status"], consultation["meet_url"]) == ("active", MEET)
    mine = (await clinic.client.get("/api/queue/me", headers=headers)).json()
    assert mine[0]["meet_url"] == MEET
    frozen_clock.advance(minutes=5)
    finished = await clinic.act(doctor_headers, f"entries/{called.json()['id']}/finish")
    assert finished.status_code == 200, finished.text
    ended = (
        await clinic.client.get(f"/api/consultations/{consultation_id}", headers=headers)
    ).json()
    assert ended["status"] == "ended"
    appointment = await clinic.client.get(
        f"/api/appointments/{entry['appointment_id']}", headers=headers
    )
    assert appointment.json()["status"] == "completed"


async def test_a_new_link_during_a_session_tells_the_next_ten_waiting_patients(
    clinic: QueueClinic, events: Published, runtime: Runtime
) -> None:
    doctor, doctor_headers, desk = await _waiting(clinic, 12)
    changed = await clinic.client.put(
        f"/api/doctors/{doctor.id}/meet-link", json={"meet_url": NEW_MEET}, headers=doctor_headers
    )
    assert changed.json()["told"] == 10
    queue = await clinic.queue(doctor, desk)
    first_ten = {e["patient_id"] for e in queue["entries"][:10]}
    await events.wait_for(lambda e: e.type == "queue.meet_link")
    told = {e.topic.removeprefix("user:") for e in events.of_type("queue.meet_link")}
    assert told == first_ten
    # A waiting patient's page never receives the doctor's live room (issue 18).
    assert all("meet_url" not in e.data for e in events.of_type("queue.meet_link"))
    async with runtime.transaction(write=False) as session:
        texts = (
            await session.execute(
                select(Notification.user_id, Notification.body).where(
                    Notification.kind == Kind.meeting_link
                )
            )
        ).all()
        assert {str(user_id) for user_id, _body in texts} == first_ten
        # Nor does their text: it leads to the waiting room, where the call opens in turn.
        assert all(NEW_MEET not in body for _user, body in texts)
        assert all(body.endswith("http://testserver/queue") for _user, body in texts)
    bad = await clinic.client.put(
        f"/api/doctors/{doctor.id}/meet-link",
        json={"meet_url": "https://evil.example.com/x"},
        headers=doctor_headers,
    )
    assert bad.status_code == 422


async def test_staff_move_a_patient_before_another_with_a_reason_that_is_audited(
    clinic: QueueClinic, session: Any
) -> None:
    doctor, _doctor_headers, desk = await _waiting(clinic, 4)
    entries = (await clinic.queue(doctor, desk))["entries"]
    moved = await clinic.act(
        desk,
        f"entries/{entries[3]['id']}/move",
        {"before_entry_id": entries[0]["id"], "reason": "Fainted in the waiting room"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["position"] == 0
    assert (await clinic.queue(doctor, desk))["order"] == [4, 1, 2, 3]
    details = list(
        await session.scalars(select(AuditEntry.details).where(AuditEntry.action == "queue.move"))
    )
    assert details[0]["reason"] == "Fainted in the waiting room"
    back = await clinic.act(
        desk,
        f"entries/{entries[0]['id']}/move",
        {"before_entry_id": entries[3]["id"], "reason": "Was first after all"},
    )
    assert back.status_code == 200
    assert (await clinic.queue(doctor, desk))["order"] == [1, 4, 2, 3]


async def test_rules_are_versioned_audited_and_change_the_order(
    clinic: QueueClinic, session: Any
) -> None:
    doctor, _doctor_headers, desk = await _waiting(clinic, 2)
    urgent = await clinic.walk_in(desk, doctor, "+254750000000", severity="urgent")
    emergency = await clinic.walk_in(desk, doctor, "+254750000001", severity="emergency")
    assert (await clinic.queue(doctor, desk))["order"] == [4, 1, 2, 3]
    admin = await clinic.staff(Role.admin)
    before = (await clinic.client.get("/api/admin/queue-rules", headers=admin)).json()
    assert before["version"] == 0
    changed = await clinic.client.put(
        "/api/admin/queue-rules",
        json={"severity_weights": {"urgent": 10}, "no_show_grace_minutes": 5},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["version"], changed.json()["severity_weights"]["urgent"]) == (1, 10)
    assert (await clinic.queue(doctor, desk))["order"] == [
        emergency.json()["token"],
        urgent.json()["token"],
        1,
        2,
    ]
    again = await clinic.client.put("/api/admin/queue-rules", json={}, headers=admin)
    assert again.json()["version"] == 2
    audited = list(
        await session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "queue.rules_changed")
        )
    )
    assert audited[0]["after"]["severity_weights"]["urgent"] == 10
    assert audited[1]["before"]["severity_weights"]["urgent"] == 10
    for role in (Role.doctor, Role.receptionist):
        forbidden = await clinic.client.get(
            "/api/admin/queue-rules", headers=await clinic.staff(role)
        )
        assert forbidden.status_code == 403


async def test_who_may_see_and_change_a_queue(clinic: QueueClinic) -> None:
    doctor, doctor_headers, desk = await _waiting(clinic, 1)
    _other_doctor, other_headers = await clinic.doctor()
    _stranger, stranger_headers = await clinic.patient()
    assert (
        await clinic.client.get(f"/api/queue/{doctor.id}", headers=stranger_headers)
    ).status_code == 404
    entry = (await clinic.queue(doctor, desk))["entries"][0]
    # Another doctor may not call; the desk may, on the doctor's behalf (test_desk_cards.py).
    assert (await clinic.act(other_headers, f"{doctor.id}/call-next")).status_code == 403
    assert (await clinic.act(stranger_headers, f"{doctor.id}/call-next")).status_code == 403
    assert (await clinic.act(stranger_headers, f"entries/{entry['id']}/finish")).status_code == 404
    assert (
        await clinic.act(
            stranger_headers,
            f"entries/{entry['id']}/move",
            {"before_entry_id": entry["id"], "reason": "x"},
        )
    ).status_code == 404
    walk_in = await clinic.walk_in(stranger_headers, doctor, "+254760000000")
    assert walk_in.status_code == 403
    assert (await clinic.act(doctor_headers, f"{doctor.id}/call-next")).status_code == 200


async def test_patients_check_in_themselves_only_within_the_window(
    clinic: QueueClinic, frozen_clock: FrozenClock
) -> None:
    doctor, _ = await clinic.doctor()
    patient, headers = await clinic.patient()
    booked = (await clinic.book(headers, doctor, AFTERNOON[8])).json()  # 13:00 UTC
    early = await clinic.client.post(
        "/api/queue/check-in", json={"appointment_id": booked["id"]}, headers=headers
    )
    assert (early.status_code, early.json()["error"]["code"]) == (409, "check_in_not_open")
    frozen_clock.advance(hours=3)
    headers = await clinic.renew(headers)
    on_time = await clinic.client.post(
        "/api/queue/check-in", json={"appointment_id": booked["id"]}, headers=headers
    )
    assert on_time.status_code == 201, on_time.text
    assert on_time.json()["date"] == TODAY
    _other, other_headers = await clinic.patient()
    theirs = await clinic.client.post(
        "/api/queue/check-in", json={"appointment_id": booked["id"]}, headers=other_headers
    )
    assert theirs.status_code == 404
    assert patient.id


async def test_a_check_in_code_finds_the_appointment(clinic: QueueClinic, runtime: Runtime) -> None:
    doctor, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    await clinic.open_check_in_early()
    _patient, headers = await clinic.patient()
    booked = (await clinic.book(headers, doctor, AFTERNOON[3])).json()
    code = queues.check_in_code(runtime.settings, uuid.UUID(booked["id"]))
    assert len(code) == 6
    wrong = await clinic.client.post("/api/queue/check-in", json={"code": "AAAAAA"}, headers=desk)
    assert wrong.status_code == 404
    found = await clinic.client.post(
        "/api/queue/check-in", json={"code": code.lower()}, headers=desk
    )
    assert found.status_code == 201, found.text
    assert found.json()["appointment_id"] == booked["id"]


async def test_a_doctor_gone_for_two_minutes_is_shown_away_and_back_on_return(
    clinic: QueueClinic, frozen_clock: FrozenClock, runtime: Runtime, events: Published
) -> None:
    doctor, _doctor_headers, desk = await _waiting(clinic, 1)
    day = (await clinic.queue(doctor, desk))["date"]
    here = {(doctor.id, date.fromisoformat(day))}

    async def sweep(present: set[Any]) -> int:
        async with runtime.transaction() as session:
            return await queues.mark_doctors_away(
                session=session, present=present, away_after=timedelta(minutes=2)
            )

    assert await sweep(set()) == 0
    frozen_clock.advance(seconds=119)
    assert await sweep(set()) == 0
    frozen_clock.advance(seconds=1)
    assert await sweep(set()) == 1
    assert (await clinic.queue(doctor, desk))["doctor_away"] is True
    await events.wait_for(lambda e: e.type == "queue.updated" and e.data["doctor_away"] is True)
    assert await sweep(here) == 1
    assert (await clinic.queue(doctor, desk))["doctor_away"] is False
