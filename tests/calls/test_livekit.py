"""LiveKit: with `LIVEKIT_URL` and its key and secret, a ring says the media goes through a
room, and each participant gets a join token minted with `livekit-api` for that call's room
alone, which LiveKit would accept (checked here by decoding it with the secret)."""

from __future__ import annotations

import time

import jwt
import pytest

from clinicflow.config import Settings
from clinicflow.consultations.schemas import ConsultationStatus, ConsultationType
from clinicflow.identity.schemas import Role
from tests.calls.test_signalling import call, joined, of, video
from tests.consultations.clinic import Clinic
from tests.realtime.conftest import Server

KEY = "APIclinicflowTest"
SECRET = "a-livekit-secret-of-at-least-thirty-two-chars"
URL = "wss://livekit.clinic.example"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "livekit_url": URL,
            "livekit_api_key": KEY,
            "livekit_api_secret": SECRET,
            "livekit_token_seconds": 600,
        }
    )


async def test_a_call_meets_in_its_own_room_with_tokens_for_its_participants_only(
    server: Server, clinic: Clinic
) -> None:
    patient, doctor, consultation = await video(clinic)
    topic = f"consultation:{consultation.id}"
    doctor_socket = await joined(server, doctor, topic)
    patient_socket = await joined(server, patient, topic)
    rung = await call(doctor_socket, topic, "ring")
    assert rung["media"] == "livekit"
    assert (await patient_socket.until(of("ring")))["data"]["media"] == "livekit"
    call_id = rung["call_id"]
    path = f"/api/consultations/{consultation.id}/calls/{call_id}/livekit"

    rooms = set()
    for person in (patient, doctor):
        before = int(time.time())
        answer = await clinic.client.get(path, headers=person.headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["url"] == URL
        assert body["room"] == f"clinicflow-call-{call_id}"
        claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"])
        assert claims["iss"] == KEY
        assert claims["sub"] == str(person.id)
        assert claims["name"] == person.user.name
        assert claims["video"] == {
            "roomJoin": True,
            "room": body["room"],
            "canPublish": True,
            "canSubscribe": True,
            "canPublishData": False,
        }
        assert before + 600 <= claims["exp"] <= int(time.time()) + 600
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(
                body["token"], "another-secret-of-thirty-two-characters", algorithms=["HS256"]
            )
        rooms.add(body["room"])
    assert len(rooms) == 1

    # Nobody else gets into the room, and an ended call's room is closed to all.
    for outsider in (await clinic.patient(), await clinic.staff(Role.admin)):
        assert (await clinic.client.get(path, headers=outsider.headers)).status_code == 404
    await call(doctor_socket, topic, "end", call_id=call_id)
    assert (await clinic.client.get(path, headers=patient.headers)).status_code == 409


async def test_an_audio_consultations_call_uses_the_room_too(
    server: Server, clinic: Clinic
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(
        patient, doctor, ConsultationStatus.active, ConsultationType.audio
    )
    topic = f"consultation:{consultation.id}"
    rung = await call(await joined(server, patient, topic), topic, "ring")
    assert (rung["media"], rung["status"]) == ("livekit", "ringing")
