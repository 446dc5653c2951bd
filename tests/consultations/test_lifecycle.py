"""Starting a consultation and moving it through pending → active | declined → ended."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import service as consultations
from clinicflow.consultations.models import Consultation
from clinicflow.consultations.schemas import ConsultationStatus, ConsultationType
from clinicflow.consultations.service.lifecycle import TRANSITIONS, move
from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.consultations.clinic import MEET, TEST_PENDING, Clinic, Person
from tests.consultations.conftest import Published

pytestmark = pytest.mark.usefixtures("app")
S = ConsultationStatus


async def start(clinic: Clinic, patient: Any, doctor: Any, **extra: Any) -> Any:
    body = {"doctor_id": str(doctor.id), "problem": "Rash on my arm", "type": "chat", **extra}
    return await clinic.client.post("/api/consultations", json=body, headers=patient.headers)


async def test_a_patient_starts_a_pending_consultation(
    clinic: Clinic, published: Published, session: AsyncSession
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    response = await start(clinic, patient, doctor, problem="  Rash on my arm  ", type="video")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert body["problem"] == "Rash on my arm"
    assert body["type"] == "video"
    assert body["patient_id"] == str(patient.id)
    assert body["doctor_id"] == str(doctor.id)
    assert body["doctor_name"] == doctor.user.name
    assert body["meet_url"] is None
    assert body["last_seq"] == 0
    [created] = published.of_type("consultation.created")
    assert created.topic == f"user:{doctor.id}"
    # Kept in the doctor's event log (the first event of theirs), so a page polls it too.
    assert created.seq == 1
    assert created.data["id"] == body["id"]
    actions = await session.scalars(select(AuditEntry.action))
    assert "consultation.start" in list(actions)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"problem": ""}, 422, "validation_error"),
        ({"problem": "   "}, 422, "validation_error"),
        ({"problem": "x" * 2001}, 422, "validation_error"),
        ({"problem": "bad\x00byte"}, 422, "validation_error"),
        ({"type": "fax"}, 422, "validation_error"),
        ({"surprise": 1}, 422, "validation_error"),
    ],
)
async def test_bad_starts_are_refused(
    clinic: Clinic, change: dict[str, Any], status: int, code: str
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    response = await start(clinic, patient, doctor, **change)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def test_a_problem_of_2000_characters_is_accepted(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    response = await start(clinic, patient, doctor, problem="x" * 2000)
    assert response.status_code == 201, response.text


async def test_only_patients_start_and_only_with_active_doctors(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    admin = await clinic.staff(Role.admin)
    assert (await start(clinic, doctor, doctor)).status_code == 403
    assert (await start(clinic, admin, doctor)).status_code == 403
    anonymous = await clinic.client.post(
        "/api/consultations",
        json={"doctor_id": str(doctor.id), "problem": "x", "type": "chat"},
    )
    assert anonymous.status_code == 401
    # A patient is not a doctor, and a deactivated doctor takes no consultations.
    assert (await start(clinic, patient, patient)).status_code == 404
    await clinic.client.patch(
        f"/api/admin/users/{doctor.id}", json={"is_active": False}, headers=admin.headers
    )
    assert (await start(clinic, patient, doctor)).status_code == 404


async def test_a_linked_appointment_must_be_the_patients_with_that_doctor(
    clinic: Clinic, frozen_clock: FrozenClock
) -> None:
    patient, other_patient = await clinic.patient(), await clinic.patient()
    doctor, other_doctor = await clinic.doctor(), await clinic.doctor()
    week = {
        "timezone": "UTC",
        "slot_minutes": 15,
        "weekly": {"tue": [["09:00", "12:00"]]},
        "exceptions": [],
    }
    response = await clinic.client.put(
        f"/api/doctors/{doctor.id}/availability", json=week, headers=doctor.headers
    )
    assert response.status_code == 200, response.text
    booked = await clinic.client.post(
        "/api/appointments",
        json={
            "doctor_id": str(doctor.id),
            "starts_at": "2026-03-03T09:00:00+00:00",
            "mode": "online",
        },
        headers=patient.headers,
    )
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]

    linked = await start(clinic, patient, doctor, appointment_id=appointment_id)
    assert linked.status_code == 201, linked.text
    assert linked.json()["appointment_id"] == appointment_id
    for who, with_doctor in ((patient, other_doctor), (other_patient, doctor)):
        refused = await start(clinic, who, with_doctor, appointment_id=appointment_id)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["details"]["field"] == "appointment_id"


async def test_accepting_copies_the_doctors_meet_link_once(
    clinic: Clinic, published: Published
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    admin = await clinic.staff(Role.admin)
    video = await clinic.consultation(patient, doctor, type=ConsultationType.video)
    chat = await clinic.consultation(patient, doctor, type=ConsultationType.chat)

    accepted = await clinic.client.post(
        f"/api/consultations/{video.id}/accept", headers=doctor.headers
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "active"
    assert accepted.json()["meet_url"] == MEET
    assert accepted.json()["accepted_at"] is not None
    chat_accepted = await clinic.client.post(
        f"/api/consultations/{chat.id}/accept", headers=doctor.headers
    )
    assert chat_accepted.json()["meet_url"] is None

    # A later change of the doctor's link leaves the past consultation alone.
    new_link = "https://meet.google.com/zzz-yyyy-xxx"
    changed = await clinic.client.patch(
        f"/api/admin/users/{doctor.id}", json={"meet_url": new_link}, headers=admin.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["doctor"]["meet_url"] == new_link
    again = await clinic.client.get(f"/api/consultations/{video.id}", headers=patient.headers)
    assert again.json()["meet_url"] == MEET

    # The system message and the status change reach the chat and both people's lists.
    updates = [
        e for e in published.of_type("consultation.updated") if e.data["id"] == str(video.id)
    ]
    assert {e.topic for e in updates} == {
        f"consultation:{video.id}",
        f"user:{doctor.id}",
        f"user:{patient.id}",
    }
    assert all(e.data["status"] == "active" for e in updates)
    # The chat's is ephemeral; a person's is kept in their event log, numbered.
    assert {e.topic: e.seq is None for e in updates} == {
        f"consultation:{video.id}": True,
        f"user:{doctor.id}": False,
        f"user:{patient.id}": False,
    }
    [system] = [
        e for e in published.of_type("message.created") if e.topic == f"consultation:{video.id}"
    ]
    assert system.seq == 1
    assert system.data["kind"] == "system"
    assert system.data["body"] == "accepted"
    assert system.data["sender_role"] == "system"


@pytest.mark.parametrize(
    "link",
    [
        "https://meet.google.com/ABC-defg-hij",
        "http://meet.google.com/abc-defg-hij",
        "https://meet.google.com/abc-defg-hij/extra",
        "https://meet.google.com.evil.example/abc-defg-hij",
        "https://meet.google.com/abcd-efg-hij",
        "javascript:alert(1)",
    ],
)
async def test_only_google_meet_room_links_are_kept(clinic: Clinic, link: str) -> None:
    doctor = await clinic.doctor(meet_url=None)
    admin = await clinic.staff(Role.admin)
    response = await clinic.client.patch(
        f"/api/admin/users/{doctor.id}", json={"meet_url": link}, headers=admin.headers
    )
    assert response.status_code == 422, response.text


ACTIONS = ("accept", "decline", "end")
SYSTEM_BODY = {"accept": "accepted", "decline": "declined", "end": "ended"}
# What each action does from each status; None means refused with 409 invalid_transition.
RESULT = {
    (S.pending, "accept"): S.active,
    (S.pending, "decline"): S.declined,
    (S.active, "end"): S.ended,
}


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("action", ACTIONS)
async def test_every_transition_rule(
    clinic: Clinic, session: AsyncSession, status: S, action: str
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, status)
    body = {"reason": "Not my specialty"} if action == "decline" else None
    response = await clinic.client.post(
        f"/api/consultations/{consultation.id}/{action}", json=body, headers=doctor.headers
    )
    expected = RESULT.get((status, action))
    if expected is None:
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_transition"
        assert error["details"]["status"] == status.value
    else:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == expected.value
        history = await clinic.client.get(
            f"/api/consultations/{consultation.id}/messages", headers=patient.headers
        )
        last = history.json()["items"][-1]
        assert (last["kind"], last["body"]) == ("system", SYSTEM_BODY[action])


def test_the_transition_table_is_the_documented_one() -> None:
    """docs/consultations.md draws this table; a change to it is a change of the rules."""
    assert {
        S.pending: {S.active, S.declined},
        S.active: {S.ended, S.cancelled},
        S.declined: set(),
        S.ended: set(),
        S.cancelled: set(),
    } == TRANSITIONS


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("to", list(S))
def test_move_applies_the_table_and_refuses_any_other_move(status: S, to: S) -> None:
    consultation = Consultation(status=status)
    if to in TRANSITIONS[status]:
        move(consultation, to)
        assert consultation.status is to
        return
    with pytest.raises(AppError) as refused:
        move(consultation, to)
    assert refused.value.code is ErrorCode.invalid_transition
    assert refused.value.status == 409
    assert refused.value.details == {"status": status.value, "to": to.value}
    assert consultation.status is status


# Each lifecycle verb and the status it moves to.
VERBS = {"accept": S.active, "decline": S.declined, "end": S.ended, "end_if_open": S.ended}


async def _apply(
    runtime: Runtime, verb: str, person: Person, consultation_id: uuid.UUID
) -> AppError | None:
    async with runtime.transaction() as tx:
        try:
            if verb == "decline":
                await consultations.decline(
                    session=tx, actor=person.user, consultation_id=consultation_id, reason="No"
                )
            else:
                await getattr(consultations, verb)(
                    session=tx, actor=person.user, consultation_id=consultation_id
                )
        except AppError as refused:
            return refused
    return None


async def _status(runtime: Runtime, consultation_id: uuid.UUID) -> S:
    async with runtime.transaction(write=False) as tx:
        status = await tx.scalar(
            select(Consultation.status).where(Consultation.id == consultation_id)
        )
    assert status is not None
    return status


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(sorted(VERBS)), st.sampled_from(["doctor", "patient"])),
        min_size=1,
        max_size=6,
    )
)
async def test_no_sequence_of_lifecycle_verbs_breaks_the_table(
    clinic_people: tuple[Person, Person], runtime: Runtime, steps: list[tuple[str, str]]
) -> None:
    patient, doctor = clinic_people
    async with runtime.transaction() as tx:
        started = await consultations.start(
            session=tx,
            actor=patient.user,
            max_pending=TEST_PENDING,
            doctor_id=doctor.id,
            problem="Property",
            type=ConsultationType.chat,
        )
    status = await _status(runtime, started.id)
    assert status is S.pending
    for verb, who in steps:
        refused = await _apply(runtime, verb, doctor if who == "doctor" else patient, started.id)
        after = await _status(runtime, started.id)
        if after is not status:
            assert after in TRANSITIONS[status], (status, verb, after)
            assert refused is None
        target = VERBS[verb]
        if verb == "end_if_open" and status is not S.active:
            # The queue's verb for a finished visit: nothing to end, nothing to refuse.
            assert refused is None
            assert after is status
        elif who == "patient":
            assert refused is not None
            assert refused.code is ErrorCode.forbidden
        elif target in TRANSITIONS[status]:
            assert refused is None
            assert after is target
        else:
            assert refused is not None
            assert refused.code is ErrorCode.invalid_transition
            assert refused.details == {"status": status.value, "to": target.value}
        status = after


@pytest.fixture
async def clinic_people(clinic: Clinic) -> tuple[Person, Person]:
    return await clinic.patient(), await clinic.doctor()


async def test_a_decline_needs_a_reason_the_patient_then_reads(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor)
    path = f"/api/consultations/{consultation.id}/decline"
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}):
        refused = await clinic.client.post(path, json=body, headers=doctor.headers)
        assert refused.status_code == 422, body
    declined = await clinic.client.post(
        path, json={"reason": "Please see a dermatologist"}, headers=doctor.headers
    )
    assert declined.status_code == 200, declined.text
    seen = await clinic.client.get(f"/api/consultations/{consultation.id}", headers=patient.headers)
    assert seen.json()["status"] == "declined"
    assert seen.json()["decline_reason"] == "Please see a dermatologist"


async def test_ending_records_the_duration_from_acceptance(
    clinic: Clinic, frozen_clock: FrozenClock
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor)
    frozen_clock.advance(minutes=5)  # waiting time is not consultation time
    await clinic.client.post(f"/api/consultations/{consultation.id}/accept", headers=doctor.headers)
    frozen_clock.advance(minutes=7, seconds=30)
    # Only the doctor ends it.
    by_patient = await clinic.client.post(
        f"/api/consultations/{consultation.id}/end", headers=patient.headers
    )
    assert by_patient.status_code == 403
    ended = await clinic.client.post(
        f"/api/consultations/{consultation.id}/end", headers=doctor.headers
    )
    assert ended.status_code == 200, ended.text
    body = ended.json()
    assert body["status"] == "ended"
    assert body["duration_seconds"] == 7 * 60 + 30
    assert datetime.fromisoformat(body["ended_at"]) == datetime(2026, 3, 2, 9, 12, 30, tzinfo=UTC)
    assert datetime.fromisoformat(body["ended_at"]) - datetime.fromisoformat(
        body["accepted_at"]
    ) == timedelta(seconds=body["duration_seconds"])


async def test_concurrent_accept_and_decline_leave_one_outcome(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor)
    base = f"/api/consultations/{consultation.id}"
    answers = await asyncio.gather(
        *[clinic.client.post(f"{base}/accept", headers=doctor.headers) for _ in range(5)],
        *[
            clinic.client.post(f"{base}/decline", json={"reason": "No"}, headers=doctor.headers)
            for _ in range(5)
        ],
    )
    assert sorted(a.status_code for a in answers) == [200] + [409] * 9
    history = await clinic.client.get(f"{base}/messages", headers=patient.headers)
    assert [m["seq"] for m in history.json()["items"]] == [1]


async def test_lists_show_mine_newest_first_with_a_status_filter(clinic: Clinic) -> None:
    patient, other_patient = await clinic.patient(), await clinic.patient()
    doctor, other_doctor = await clinic.doctor(), await clinic.doctor()
    admin = await clinic.staff(Role.admin)
    receptionist = await clinic.staff(Role.receptionist)
    first = await clinic.consultation(patient, doctor, S.active)
    second = await clinic.consultation(patient, other_doctor)
    theirs = await clinic.consultation(other_patient, doctor)

    async def ids(person: Any, **params: Any) -> list[str]:
        response = await clinic.client.get(
            "/api/consultations", params=params, headers=person.headers
        )
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(patient) == [str(second.id), str(first.id)]
    assert await ids(doctor) == [str(theirs.id), str(first.id)]
    assert await ids(doctor, status="pending") == [str(theirs.id)]
    assert len(await ids(admin)) == 3
    assert (
        await clinic.client.get("/api/consultations", headers=receptionist.headers)
    ).status_code == 403
    assert (await clinic.client.get("/api/consultations")).status_code == 401

    page = await clinic.client.get(
        "/api/consultations", params={"limit": 1}, headers=patient.headers
    )
    cursor = page.json()["next_cursor"]
    assert cursor
    rest = await clinic.client.get(
        "/api/consultations", params={"limit": 1, "cursor": cursor}, headers=patient.headers
    )
    assert [item["id"] for item in rest.json()["items"]] == [str(first.id)]
    assert rest.json()["next_cursor"] is None
    bad = await clinic.client.get(
        "/api/consultations", params={"cursor": "nonsense"}, headers=patient.headers
    )
    assert bad.status_code == 422


async def test_the_desk_sees_who_is_with_whom_but_not_what_about(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    receptionist = await clinic.staff(Role.receptionist)
    active = await clinic.consultation(patient, doctor, S.active)
    pending = await clinic.consultation(patient, doctor)
    await clinic.consultation(patient, doctor, S.ended)

    response = await clinic.client.get("/api/desk/consultations", headers=receptionist.headers)
    assert response.status_code == 200, response.text
    entries = response.json()
    assert [e["id"] for e in entries] == [str(active.id), str(pending.id)]
    assert set(entries[0]) == {
        "id",
        "status",
        "type",
        "patient_id",
        "patient_name",
        "doctor_id",
        "doctor_name",
        "created_at",
        "accepted_at",
    }
    assert entries[0]["patient_name"] == patient.user.name
    assert "Headache" not in response.text
    for outsider in (patient, doctor):
        refused = await clinic.client.get("/api/desk/consultations", headers=outsider.headers)
        assert refused.status_code == 403
