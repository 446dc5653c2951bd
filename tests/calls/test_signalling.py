"""A call's signalling over the real `/ws`: relayed only between the consultation's two
participants, refused outside an active audio or video consultation, and recorded."""

from __future__ import annotations

import asyncio
from typing import Any

from clinicflow.consultations.models import Consultation
from clinicflow.consultations.schemas import ConsultationStatus, ConsultationType
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from tests.consultations.clinic import Clinic, Person
from tests.realtime.conftest import Server, Socket, connect

OFFER = {"sdp": {"type": "offer", "sdp": "v=0 fake"}}


async def video(
    clinic: Clinic, status: ConsultationStatus = ConsultationStatus.active
) -> tuple[Person, Person, Consultation]:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, status, ConsultationType.video)
    return patient, doctor, consultation


async def joined(server: Server, person: Person, topic: str) -> Socket:
    socket = await connect(server, headers=person.headers)
    await socket.subscribe(topic)
    return socket


def reply(frame: dict[str, Any]) -> bool:
    return frame.get("op") in {"called", "error"}


def of(kind: str) -> Any:
    return lambda frame: frame.get("type") == f"call.{kind}"


async def call(socket: Socket, topic: str, kind: str, **fields: Any) -> dict[str, Any]:
    await socket.send(op="call", topic=topic, type=kind, **fields)
    return await socket.until(reply)


async def nothing_for(socket: Socket, seconds: float = 0.5) -> list[dict[str, Any]]:
    """The call frames `socket` receives within `seconds` (pongs and presence skipped)."""
    seen: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                frame = await socket.receive()
                if str(frame.get("type", "")).startswith("call."):
                    seen.append(frame)
    except TimeoutError:
        pass
    return seen


async def test_a_call_is_relayed_to_the_other_participant_only_and_recorded(
    server: Server, clinic: Clinic, frozen_clock: FrozenClock
) -> None:
    patient, doctor, consultation = await video(clinic)
    topic = f"consultation:{consultation.id}"
    admin = await clinic.staff(Role.admin)
    doctor_socket = await joined(server, doctor, topic)
    patient_socket = await joined(server, patient, topic)
    # An admin may follow the consultation's topic (to read it) but hears none of its calls.
    admin_socket = await joined(server, admin, topic)

    rung = await call(doctor_socket, topic, "ring", data={"kind": "video"})
    assert rung["op"] == "called"
    assert rung["status"] == "ringing"
    call_id = rung["call_id"]
    ring = await patient_socket.until(of("ring"))
    assert ring["topic"] == topic
    assert ring["data"] == {
        "kind": "video",
        "media": "p2p",
        "call_id": call_id,
        "from_user_id": str(doctor.id),
    }

    assert (await call(patient_socket, topic, "accept", call_id=call_id))["status"] == "connected"
    assert (await doctor_socket.until(of("accept")))["data"]["status"] == "connected"
    for kind, data in (("offer", OFFER), ("ice", {"candidate": {"candidate": "c1"}})):
        await call(doctor_socket, topic, kind, call_id=call_id, data=data)
        relayed = await patient_socket.until(of(kind))
        assert relayed["data"] == {**data, "call_id": call_id, "from_user_id": str(doctor.id)}
    await call(patient_socket, topic, "answer", call_id=call_id, data={"sdp": {"type": "answer"}})
    assert (await doctor_socket.until(of("answer")))["data"]["sdp"] == {"type": "answer"}

    frozen_clock.advance(seconds=95)
    ended = await call(doctor_socket, topic, "end", call_id=call_id)
    assert ended["status"] == "ended"
    assert (await patient_socket.until(of("end")))["data"]["duration_seconds"] == 95
    # Nothing reached the admin, nor went back to the sender.
    assert await nothing_for(admin_socket) == []
    assert await nothing_for(doctor_socket, 0.1) == []

    # A frame for a call that is over is refused.
    late = await call(doctor_socket, topic, "ice", call_id=call_id, data={})
    assert late["code"] == "invalid_transition"

    history = await clinic.client.get(
        f"/api/consultations/{consultation.id}/calls", headers=patient.headers
    )
    assert history.status_code == 200
    (row,) = history.json()
    assert row["id"] == call_id
    assert row["kind"] == "video"
    assert row["status"] == "ended"
    assert row["started_by"] == str(doctor.id)
    assert row["duration_seconds"] == 95
    assert row["answered_at"] is not None
    assert row["ended_at"] is not None
    admin_view = await clinic.client.get(
        f"/api/consultations/{consultation.id}/calls", headers=admin.headers
    )
    assert [call["id"] for call in admin_view.json()] == [call_id]


async def test_outsiders_can_neither_signal_nor_hear_a_call(server: Server, clinic: Clinic) -> None:
    patient, doctor, consultation = await video(clinic)
    topic = f"consultation:{consultation.id}"
    other_patient, other_doctor = await clinic.patient(), await clinic.doctor()
    admin = await clinic.staff(Role.admin)
    patient_socket = await joined(server, patient, topic)
    doctor_socket = await joined(server, doctor, topic)
    rung = await call(doctor_socket, topic, "ring")
    assert (await patient_socket.until(of("ring")))["data"]["call_id"] == rung["call_id"]

    for outsider in (other_patient, other_doctor, admin):
        socket = await connect(server, headers=outsider.headers)
        for kind, fields in (("ring", {}), ("offer", {"call_id": rung["call_id"], "data": OFFER})):
            refused = await call(socket, topic, kind, **fields)
            assert refused["op"] == "error", outsider
            assert refused["code"] == "not_found", outsider
        if outsider is not admin:
            # Nor follow the topic (an admin follows it, and hears no call: the test above).
            await socket.send(op="subscribe", topic=topic)
            assert (await socket.until(reply))["code"] == "not_found"
        await socket.close()
    assert await nothing_for(patient_socket, 0.3) == []

    history = await clinic.client.get(
        f"/api/consultations/{consultation.id}/calls", headers=other_doctor.headers
    )
    assert history.status_code == 404


async def test_ended_and_chat_only_consultations_take_no_calls(
    server: Server, clinic: Clinic
) -> None:
    patient, doctor, ended = await video(clinic, ConsultationStatus.ended)
    chat = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    pending = await clinic.consultation(
        patient, doctor, ConsultationStatus.pending, ConsultationType.audio
    )
    socket = await connect(server, headers=doctor.headers)
    for consultation in (ended, chat, pending):
        refused = await call(socket, f"consultation:{consultation.id}", "ring")
        assert refused["op"] == "error"
        assert refused["code"] == "consultation_not_open", consultation.type


async def test_a_consultation_that_ends_cuts_its_call_off(server: Server, clinic: Clinic) -> None:
    _patient, doctor, consultation = await video(clinic)
    topic = f"consultation:{consultation.id}"
    socket = await joined(server, doctor, topic)
    call_id = (await call(socket, topic, "ring"))["call_id"]
    ended = await clinic.client.post(
        f"/api/consultations/{consultation.id}/end", headers=doctor.headers
    )
    assert ended.status_code == 200, ended.text
    refused = await call(socket, topic, "offer", call_id=call_id, data=OFFER)
    assert refused["code"] == "consultation_not_open"
    # The server hung it up with the consultation (tests/calls/test_consultation_end.py);
    # a late hang-up from the page is told so.
    late = await call(socket, topic, "end", call_id=call_id)
    assert (late["code"], late["details"]["status"]) == ("invalid_transition", "missed")
    ringing = await call(socket, topic, "ring")
    assert ringing["code"] == "consultation_not_open"


async def test_only_the_person_called_answers_and_an_audio_consultation_calls_by_voice(
    server: Server, clinic: Clinic
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(
        patient, doctor, ConsultationStatus.active, ConsultationType.audio
    )
    topic = f"consultation:{consultation.id}"
    patient_socket = await joined(server, patient, topic)
    assert (await call(patient_socket, topic, "ring", data={"kind": "video"}))["code"] == (
        "validation_error"
    )
    rung = await call(patient_socket, topic, "ring")
    own = await call(patient_socket, topic, "accept", call_id=rung["call_id"])
    assert own["code"] == "forbidden"
    bad = await call(patient_socket, topic, "shout", call_id=rung["call_id"])
    assert bad["code"] == "validation_error"
    history = await clinic.client.get(
        f"/api/consultations/{consultation.id}/calls", headers=doctor.headers
    )
    assert [(row["kind"], row["status"]) for row in history.json()] == [("audio", "ringing")]


async def test_of_two_tabs_answering_at_once_one_wins(server: Server, clinic: Clinic) -> None:
    patient, doctor, consultation = await video(clinic)
    topic = f"consultation:{consultation.id}"
    doctor_socket = await joined(server, doctor, topic)
    tabs = [await joined(server, patient, topic) for _ in range(2)]
    call_id = (await call(doctor_socket, topic, "ring"))["call_id"]
    answers = await asyncio.gather(*(call(tab, topic, "accept", call_id=call_id) for tab in tabs))
    assert sorted(answer["op"] for answer in answers) == ["called", "error"]
    assert [answer["code"] for answer in answers if answer["op"] == "error"] == [
        "invalid_transition"
    ]


async def test_a_new_ring_ends_a_call_left_live(server: Server, clinic: Clinic) -> None:
    patient, doctor, consultation = await video(clinic)
    topic = f"consultation:{consultation.id}"
    doctor_socket = await joined(server, doctor, topic)
    patient_socket = await joined(server, patient, topic)
    first = (await call(doctor_socket, topic, "ring"))["call_id"]
    second = (await call(patient_socket, topic, "ring"))["call_id"]
    ended = await doctor_socket.until(of("end"))
    assert ended["data"]["call_id"] == first
    assert ended["data"]["status"] == "missed"
    assert (await doctor_socket.until(of("ring")))["data"]["call_id"] == second
    history = await clinic.client.get(
        f"/api/consultations/{consultation.id}/calls", headers=doctor.headers
    )
    assert [row["status"] for row in history.json()] == ["missed", "ringing"]


async def test_without_livekit_calls_are_peer_to_peer_and_no_room_is_offered(
    server: Server, clinic: Clinic
) -> None:
    _patient, doctor, consultation = await video(clinic)
    topic = f"consultation:{consultation.id}"
    rung = await call(await joined(server, doctor, topic), topic, "ring")
    assert rung["media"] == "p2p"
    room = await clinic.client.get(
        f"/api/consultations/{consultation.id}/calls/{rung['call_id']}/livekit",
        headers=doctor.headers,
    )
    assert room.status_code == 404
