"""Consultation test helpers: people signed in, consultations put into any status through
the service, and a collector of what is published after commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.consultations import service as consultations
from clinicflow.consultations.models import (
    Consultation,
    ConsultationStatus,
    ConsultationType,
    Message,
)
from clinicflow.core import security
from clinicflow.identity.models import Role, User
from clinicflow.realtime import Event
from clinicflow.realtime.publish import PUBLISHER_KEY, Publisher
from clinicflow.runtime import Runtime
from tests.factories import Accounts, bearer, latest_code, login

MEET = "https://meet.google.com/abc-defg-hij"


@pytest.fixture(autouse=True)
def field_encryption(settings: Settings) -> Iterator[None]:
    """The keys are process-wide: a test that rotates them must not leave them rotated."""
    yield
    security.configure_field_encryption(
        keys=settings.field_encryption_keys, secret_key=settings.secret_key
    )


@dataclass
class Published:
    """Every batch the sessions published, and whether its data was committed at that time."""

    runtime: Runtime
    forward: Publisher
    events: list[Event] = field(default_factory=list)
    stored_when_published: list[bool] = field(default_factory=list)

    async def publish(self, events: list[Event]) -> None:
        for event in events:
            self.events.append(event)
            if event.type == "message.created":
                self.stored_when_published.append(await self._stored(event.data["id"]))
        await self.forward.publish(events)

    async def _stored(self, message_id: str) -> bool:
        # A fresh autocommit connection sees only what has been committed.
        autocommit = self.runtime.engine.execution_options(isolation_level="AUTOCOMMIT")
        async with AsyncSession(bind=autocommit) as reader:
            found = await reader.scalar(
                select(Message.id).where(Message.id == uuid.UUID(message_id))
            )
        return found is not None

    def of_type(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.type == kind]


@pytest.fixture
def published(runtime: Runtime) -> Iterator[Published]:
    info: dict[str, Any] = runtime.sessionmaker.kw["info"]
    original = info[PUBLISHER_KEY]
    collector = Published(runtime=runtime, forward=original)
    info[PUBLISHER_KEY] = collector
    yield collector
    info[PUBLISHER_KEY] = original


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
        """A consultation in `status`, reached through the service's own transitions."""
        async with self.runtime.transaction() as session:
            consultation = await consultations.start(
                session=session,
                actor=patient.user,
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

    async def send(
        self, person: Person, consultation_id: uuid.UUID, body: str, client_id: str | None = None
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/consultations/{consultation_id}/messages",
            json={"client_id": client_id or uuid.uuid4().hex, "body": body},
            headers=person.headers,
        )


@pytest.fixture
def clinic(client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime) -> Clinic:
    return Clinic(client, accounts, runtime)
