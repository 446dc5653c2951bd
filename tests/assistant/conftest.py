"""Assistant fixtures: a clinic with an active consultation, and asking `@b` through the
real send path, then waiting for the question's one outcome."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from clinicflow.assistant.runner import Assistant
from clinicflow.consultations.models import Consultation
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.realtime import Event
from clinicflow.runtime import Runtime
from tests.conftest import Published
from tests.consultations.clinic import Clinic, Person
from tests.factories import Accounts


@pytest.fixture
def clinic(client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime) -> Clinic:
    return Clinic(client, accounts, runtime)


@dataclass
class Chat:
    """A patient, their doctor and an active consultation, with helpers to ask `@b`."""

    clinic: Clinic
    events: Published
    assistant: Assistant
    patient: Person
    doctor: Person
    consultation: Consultation

    @property
    def id(self) -> uuid.UUID:
        return self.consultation.id

    async def say(self, person: Person, body: str, consultation_id: uuid.UUID | None = None) -> int:
        response = await self.clinic.send(person, consultation_id or self.id, body)
        assert response.status_code == 201, response.text
        seq: int = response.json()["seq"]
        return seq

    async def outcome(self, seq: int, consultation_id: uuid.UUID | None = None) -> dict[str, Any]:
        """The stored outcome of the question at `seq` (answer or system message): in the
        chat, or in the doctor's private thread on their own topic."""
        key = str(consultation_id or self.id)
        event = await self.events.wait_for(
            lambda e: (
                e.type == "message.created"
                and (
                    e.topic == f"consultation:{key}"
                    or (e.topic.startswith("user:") and e.data.get("consultation_id") == key)
                )
                and e.data["client_id"] == f"assistant:{seq}"
            )
        )
        await self.assistant.idle()
        return dict(event.data)

    async def ask(
        self, person: Person, body: str, consultation_id: uuid.UUID | None = None
    ) -> dict[str, Any]:
        seq = await self.say(person, body, consultation_id)
        return await self.outcome(seq, consultation_id)

    def stream(self, seq: int) -> list[Event]:
        return [
            e
            for e in self.events.events
            if e.type.startswith("assistant.") and e.data.get("question_seq") == seq
        ]


@pytest.fixture
async def chat(clinic: Clinic, events: Published, runtime: Runtime, app: Any) -> Chat:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    return Chat(clinic, events, app.state.assistant, patient, doctor, consultation)
