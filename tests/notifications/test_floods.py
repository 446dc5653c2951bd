"""Floods: a doctor's burst of messages makes one notification (one SMS, one push), and a
patient has at most a few consultation requests waiting. The budgets (429s, the hourly
SMS/email/push budget) are in test_throttles.py."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.core.clock import FrozenClock
from clinicflow.notifications.models import Notification
from clinicflow.notifications.schemas import Kind
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic, Person
from tests.factories import Accounts, bearer, login

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def clinic(client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime) -> Clinic:
    return Clinic(client, accounts, runtime)


async def chat_notifications(session: AsyncSession, person: Person) -> list[Notification]:
    rows = await session.scalars(
        select(Notification).where(
            Notification.user_id == person.id, Notification.kind == Kind.chat_message
        )
    )
    return list(rows)


async def test_a_burst_of_doctor_messages_makes_one_notification(
    clinic: Clinic, session: AsyncSession, frozen_clock: FrozenClock
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    for n in range(5):
        frozen_clock.advance(seconds=5)
        sent = await clinic.send(doctor, consultation.id, f"Message {n}")
        assert sent.status_code == 201, sent.text
    # One notification, so one set of deliveries (one SMS, one push) for the burst.
    [told] = await chat_notifications(session, patient)

    # Once read, the next message tells them again.
    read = await clinic.client.post(f"/api/notifications/{told.id}/read", headers=patient.headers)
    assert read.status_code == 200, read.text
    await clinic.send(doctor, consultation.id, "One more thing")
    assert len(await chat_notifications(session, patient)) == 2


async def test_an_unread_notification_stops_coalescing_after_the_window(
    clinic: Clinic, session: AsyncSession, frozen_clock: FrozenClock
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    await clinic.send(doctor, consultation.id, "Hello")
    frozen_clock.advance(minutes=31)
    doctor = Person(doctor.user, bearer(await login(clinic.client, doctor.user)))
    later = await clinic.send(doctor, consultation.id, "Are you there?")
    assert later.status_code == 201, later.text
    assert len(await chat_notifications(session, patient)) == 2


async def test_each_consultation_coalesces_on_its_own(
    clinic: Clinic, session: AsyncSession
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    first = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    second = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    for consultation in (first, second, first, second):
        await clinic.send(doctor, consultation.id, "Hello")
    told = await chat_notifications(session, patient)
    assert sorted(str(row.consultation_id) for row in told) == sorted(
        [str(first.id), str(second.id)]
    )


async def request_consultation(clinic: Clinic, patient: Person, doctor: Person) -> httpx.Response:
    return await clinic.client.post(
        "/api/consultations",
        json={"doctor_id": str(doctor.id), "problem": "Headache", "type": "chat"},
        headers=patient.headers,
    )


async def test_a_patient_has_at_most_three_requests_waiting(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    for _ in range(3):
        assert (await request_consultation(clinic, patient, doctor)).status_code == 201
    refused = await request_consultation(clinic, patient, doctor)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "too_many_pending"
    assert refused.json()["error"]["details"] == {"max_pending": 3}
    # Another patient is not held back by this one's requests.
    other = await clinic.patient()
    assert (await request_consultation(clinic, other, doctor)).status_code == 201


async def test_an_answered_request_frees_a_place(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    ids = []
    for _ in range(3):
        ids.append((await request_consultation(clinic, patient, doctor)).json()["id"])
    accepted = await clinic.client.post(
        f"/api/consultations/{ids[0]}/accept", headers=doctor.headers
    )
    assert accepted.status_code == 200, accepted.text
    assert (await request_consultation(clinic, patient, doctor)).status_code == 201
