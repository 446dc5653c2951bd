"""People and consultations for a test, made through the services and the API; shared by
the consultation, realtime and page tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from clinicflow.consultations import service as consultations
from clinicflow.consultations.models import Consultation
from clinicflow.consultations.schemas import ConsultationStatus, ConsultationType
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.factories import Accounts, bearer, latest_code, login

MEET = "https://meet.google.com/abc-defg-hij"
# The factory makes consultations as the data a test needs, not as a patient's requests:
# the cap on waiting requests is tested through the API (tests/consultations/test_lifecycle.py).
TEST_PENDING = 1000


@dataclass
class Person:
    user: User
    headers: dict[str, str]

    @property
    def id(self) -> uuid.UUID:
        return self.user.id


class Clinic:
    """People and consultations for a test, made through the services and the API."""

    def __init__(self, client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime) -> None:
        self.client, self.accounts, self.runtime = client, accounts, runtime

    async def patient(self) -> Person:
        user = await self.accounts.make(Role.patient)
        assert user.phone
        await self.client.post("/api/auth/otp/request", json={"phone": user.phone})
        verified = await self.client.post(
            "/api/auth/otp/verify",
            json={"phone": user.phone, "code": latest_code(self.runtime, user.phone)},
        )
        assert verified.status_code == 200, verified.text
        return Person(user, bearer(verified.json()))

    async def staff(self, role: Role, **fields: Any) -> Person:
        user = await self.accounts.make(role, **fields)
        return Person(user, bearer(await login(self.client, user)))

    async def doctor(self, meet_url: str | None = MEET) -> Person:
        return await self.staff(Role.doctor, profile={"meet_url": meet_url})

    async def consultation(
        self,
        patient: Person,
        doctor: Person,
        status: ConsultationStatus = ConsultationStatus.pending,
        type: ConsultationType = ConsultationType.chat,
    ) -> Consultation:
        """A consultation in `status`, reached through the service's own transitions (a
        cancelled one is an in-person visit: only those are cancelled)."""
        if status is ConsultationStatus.cancelled:
            return await self.cancelled_visit(patient, doctor)
        async with self.runtime.transaction() as session:
            consultation = await consultations.start(
                session=session,
                actor=patient.user,
                max_pending=TEST_PENDING,
                doctor_id=doctor.id,
                problem="Headache for three days",
                type=type,
            )
        steps = {
            ConsultationStatus.pending: [],
            ConsultationStatus.active: [consultations.accept],
            ConsultationStatus.ended: [consultations.accept, consultations.end],
        }
        for step in steps.get(status, []):
            async with self.runtime.transaction() as session:
                consultation = await step(
                    session=session, actor=doctor.user, consultation_id=consultation.id
                )
        if status is ConsultationStatus.declined:
            async with self.runtime.transaction() as session:
                consultation = await consultations.decline(
                    session=session,
                    actor=doctor.user,
                    consultation_id=consultation.id,
                    reason="Please see a dentist",
                )
        assert consultation.status is status
        return consultation

    async def cancelled_visit(self, patient: Person, doctor: Person) -> Consultation:
        """An in-person visit the queue opened and cancelled (its patient was skipped)."""
        async with self.runtime.transaction() as session:
            visit = await consultations.open_in_person(
                session=session,
                actor=doctor.user,
                doctor_id=doctor.id,
                patient_id=patient.id,
                appointment=None,
            )
        async with self.runtime.transaction() as session:
            cancelled = await consultations.cancel_visit(
                session=session, actor=doctor.user, consultation_id=visit.id
            )
        assert cancelled is not None
        return cancelled

    async def send(
        self, person: Person, consultation_id: uuid.UUID, body: str, client_id: str | None = None
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/consultations/{consultation_id}/messages",
            json={"client_id": client_id or uuid.uuid4().hex, "body": body},
            headers=person.headers,
        )
