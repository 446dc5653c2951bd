"""People, consultations, appointments, notes and prescriptions for the records tests, made
through the services and the API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select

from clinicflow.config import Settings
from clinicflow.consultations.models import Consultation
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.runtime import Runtime
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.models import Appointment
from clinicflow.scheduling.schemas import Mode
from tests.consultations.clinic import Clinic, Person

WORKING_DAY = [("08:00", "12:00"), ("14:00", "18:00")]
MEDICATION = {
    "name": "Amoxicillin",
    "strength": "500 mg",
    "dosage": "1 capsule",
    "route": "oral",
    "frequency": "3 times a day",
    "duration": "7 days",
    "quantity": "21 capsules",
    "instructions": "Take after meals",
}
PRESCRIPTION: dict[str, Any] = {
    "medications": [
        MEDICATION,
        {**MEDICATION, "name": "Paracetamol", "strength": "1 g", "quantity": "12 tablets"},
    ],
    "lifestyle_advice": "Rest and drink plenty of water",
    "dietary_instructions": "Avoid alcohol",
    "warning_signs": "Rash or difficulty breathing",
    "emergency_instructions": "Go to the nearest emergency room",
}
NOTE = {
    "body_markdown": "Throat **red**, no fever.",
    "diagnosis": "Acute tonsillitis",
    "follow_up_on": "2026-03-16",
}


class RecordsClinic(Clinic):
    def __init__(
        self, client: httpx.AsyncClient, accounts: Any, runtime: Any, settings: Settings
    ) -> None:
        super().__init__(client, accounts, runtime)
        self.settings = settings

    async def visit(self, patient: Person, doctor: Person) -> Consultation:
        """An ended consultation: notes and prescriptions can be written."""
        return await self.consultation(patient, doctor, ConsultationStatus.ended)

    async def note(
        self, doctor: Person, consultation_id: uuid.UUID, **fields: Any
    ) -> httpx.Response:
        return await self.client.put(
            f"/api/consultations/{consultation_id}/visit-note",
            json={**NOTE, **fields},
            headers=doctor.headers,
        )

    async def prescribe(
        self, doctor: Person, consultation_id: uuid.UUID, **fields: Any
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/consultations/{consultation_id}/prescriptions",
            json={**PRESCRIPTION, **fields},
            headers=doctor.headers,
        )

    async def working_week(self, doctor: Person) -> None:
        async with self.runtime.transaction() as session:
            await scheduling.set_availability(
                session=session,
                actor=doctor.user,
                doctor_id=doctor.id,
                timezone="Africa/Nairobi",
                slot_minutes=15,
                weekly={day: WORKING_DAY for day in ("mon", "tue", "wed", "thu", "fri")},
                exceptions=[],
            )

    async def appointment(
        self, patient: Person, doctor: Person, starts_at: datetime
    ) -> Appointment:
        """Booked by the patient; the doctor must have a working week."""
        async with self.runtime.transaction() as session:
            return await scheduling.book(
                session=session,
                settings=self.settings,
                actor=patient.user,
                doctor_id=doctor.id,
                starts_at=starts_at,
                mode=Mode.in_person,
                reason="Check-up",
            )


async def tamper(
    runtime: Runtime, table: type[Any], *, delete: bool = False, **values: Any
) -> None:
    """Change (or delete) the first row of a records table behind the services' back."""
    async with runtime.transaction() as session:
        row = await session.scalar(select(table))
        assert row is not None
        if delete:
            await session.delete(row)
        for name, value in values.items():
            setattr(row, name, value)
        await session.flush()


ALLERGY = {"substance": "Penicillin", "reaction": "Hives", "severity": "severe"}
CONDITION = {"name": "Asthma", "icd10": "J45.9", "onset": "2015-04-01"}
CURRENT_MEDICATION = {"name": "Salbutamol", "form": "inhalation", "strength": "100 mcg"}
LIST_BODY = {"allergies": ALLERGY, "conditions": CONDITION, "medications": CURRENT_MEDICATION}


async def add_to_list(
    clinic: RecordsClinic, doctor: Person, patient_id: uuid.UUID, kind: str, **fields: Any
) -> httpx.Response:
    """POST a line to one of the patient's lists (`kind` as in the URL: "allergies")."""
    return await clinic.client.post(
        f"/api/patients/{patient_id}/{kind}",
        json={**LIST_BODY[kind], **fields},
        headers=doctor.headers,
    )
