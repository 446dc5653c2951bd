"""A call never outlives its consultation, and a ring nobody answers runs out: over the real
socket, whichever way the consultation ends (the doctor's button, the queue's finish)."""

from __future__ import annotations

from datetime import datetime, timedelta

from clinicflow.calls import service as calls
from clinicflow.consultations import service as consultations
from clinicflow.core.clock import FrozenClock
from tests.calls.test_signalling import call, joined, of, video
from tests.consultations.clinic import Clinic
from tests.realtime.conftest import Server


async def test_ending_the_consultation_hangs_up_its_call_on_both_sides(
    server: Server, clinic: Clinic, frozen_clock: FrozenClock
) -> None:
    patient, doctor, consultation = await video(clinic)
    topic = f"consultation:{consultation.id}"
    doctor_socket = await joined(server, doctor, topic)
    patient_socket = await joined(server, patient, topic)
    call_id = (await call(doctor_socket, topic, "ring"))["call_id"]
    frozen_clock.advance(seconds=5)
    assert (await call(patient_socket, topic, "accept", call_id=call_id))["status"] == "connected"
    frozen_clock.advance(seconds=252)

    ended = await clinic.client.post(
        f"/api/consultations/{consultation.id}/end", headers=doctor.headers
    )
    assert ended.status_code == 200, ended.text
    for socket in (doctor_socket, patient_socket):
        frame = await socket.until(of("end"))
        assert frame["data"]["call_id"] == call_id
        assert frame["data"]["status"] == "ended"
        assert frame["data"]["duration_seconds"] == 252
        assert frame["data"]["from_user_id"] == str(doctor.id)

    history = await clinic.client.get(
        f"/api/consultations/{consultation.id}/calls", headers=patient.headers
    )
    (row,) = history.json()
    assert (row["status"], row["duration_seconds"]) == ("ended", 252)
    assert row["ended_at"] is not None


async def test_the_queue_finishing_a_visit_marks_its_ringing_call_missed(
    server: Server, clinic: Clinic
) -> None:
    patient, doctor, consultation = await video(clinic)
    topic = f"consultation:{consultation.id}"
    doctor_socket = await joined(server, doctor, topic)
    patient_socket = await joined(server, patient, topic)
    call_id = (await call(patient_socket, topic, "ring"))["call_id"]
    await doctor_socket.until(of("ring"))

    # The queue's path: no HTTP route of consultations, the verb the queue calls.
    async with clinic.runtime.transaction() as session:
        await consultations.end_if_open(
            session=session, actor=doctor.user, consultation_id=consultation.id
        )
    for socket in (doctor_socket, patient_socket):
        frame = await socket.until(of("end"))
        assert (frame["data"]["call_id"], frame["data"]["status"]) == (call_id, "missed")
        assert frame["data"]["duration_seconds"] is None
    async with clinic.runtime.transaction(write=False) as session:
        (row,) = (await calls.calls_of(session, [consultation.id]))[consultation.id]
    assert row.status.value == "missed"
    assert row.answered_at is None
    assert row.ended_at is not None


async def test_a_ring_nobody_answers_runs_out_after_the_ring_timeout(
    server: Server, clinic: Clinic, frozen_clock: FrozenClock
) -> None:
    patient, doctor, consultation = await video(clinic)
    topic = f"consultation:{consultation.id}"
    doctor_socket = await joined(server, doctor, topic)
    patient_socket = await joined(server, patient, topic)
    timeout = int(calls.RING_TIMEOUT.total_seconds())

    # Just inside the timeout a ring is still answered.
    answered = (await call(doctor_socket, topic, "ring"))["call_id"]
    frozen_clock.advance(seconds=timeout - 1)
    assert (await call(patient_socket, topic, "accept", call_id=answered))["status"] == (
        "connected"
    )
    assert (await call(doctor_socket, topic, "end", call_id=answered))["status"] == "ended"

    # The caller's tab crashed while ringing: nobody hangs it up.
    rung = await call(doctor_socket, topic, "ring")
    frozen_clock.advance(seconds=timeout + 30)
    late = await call(patient_socket, topic, "accept", call_id=rung["call_id"])
    assert (late["code"], late["details"]["status"]) == ("invalid_transition", "missed")
    history = await clinic.client.get(
        f"/api/consultations/{consultation.id}/calls", headers=patient.headers
    )
    row = history.json()[-1]
    assert row["status"] == "missed"
    ran_out = datetime.fromisoformat(row["ended_at"]) - datetime.fromisoformat(row["started_at"])
    assert ran_out == calls.RING_TIMEOUT

    # The next ring stores it missed, ended when the ring ran out (not when noticed).
    await call(patient_socket, topic, "ring")
    async with clinic.runtime.transaction(write=False) as session:
        stored = (await calls.calls_of(session, [consultation.id]))[consultation.id]
    stale = next(c for c in stored if str(c.id) == rung["call_id"])
    assert stale.status.value == "missed"
    assert stale.ended_at == stale.started_at + timedelta(seconds=timeout)
