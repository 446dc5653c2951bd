"""Budgets on the surfaces that cost the clinic money or attention: consultation
requests, holds, uploads and push subscriptions answer 429 with Retry-After past a per-user
and a per-address hourly budget (all test clients share the address 203.0.113.7), and SMS,
email and push to one person stop at an hourly budget while the in-app copy stays."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.notifications import templates
from clinicflow.notifications.models import Delivery, Notification
from clinicflow.notifications.schemas import Channel, Kind, Priority
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic, Person
from tests.factories import Accounts
from tests.notifications.helpers import notify
from tests.scheduling.clinic import TUESDAY_9
from tests.scheduling.clinic import Clinic as Scheduling

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def clinic(client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime) -> Clinic:
    return Clinic(client, accounts, runtime)


async def request_consultation(clinic: Clinic, patient: Person, doctor: Person) -> httpx.Response:
    return await clinic.client.post(
        "/api/consultations",
        json={"doctor_id": str(doctor.id), "problem": "Headache", "type": "chat"},
        headers=patient.headers,
    )


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Small budgets, so a test reaches them in a few requests."""
    return settings.model_copy(
        update={
            "consultation_requests_per_user_per_hour": 4,
            "consultation_requests_per_address_per_hour": 6,
            "max_pending_consultations": 100,
            "holds_per_user_per_hour": 3,
            "holds_per_address_per_hour": 100,
            "uploads_per_user_per_hour": 2,
            "uploads_per_address_per_hour": 100,
            "push_subscriptions_per_user_per_hour": 2,
            "push_subscriptions_per_address_per_hour": 100,
            "notification_sends_per_user_per_hour": 3,
            "notification_sends_per_address_per_hour": 3,
        }
    )


def assert_throttled(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.json()["error"]["code"] == "rate_limited"
    assert int(answer.headers["retry-after"]) > 0


async def test_consultation_requests_are_throttled_per_user_and_per_address(
    clinic: Clinic, frozen_clock: FrozenClock
) -> None:
    doctor = await clinic.doctor()
    amina, baraka = await clinic.patient(), await clinic.patient()
    for _ in range(4):
        assert (await request_consultation(clinic, amina, doctor)).status_code == 201
    assert_throttled(await request_consultation(clinic, amina, doctor))
    # Baraka has a budget of his own, but shares the address, where Amina's five attempts
    # (the refused one too) leave one of its six.
    assert (await request_consultation(clinic, baraka, doctor)).status_code == 201
    assert_throttled(await request_consultation(clinic, baraka, doctor))
    # An hour later the budgets are whole again (a fresh sign-in: the old token expired).
    frozen_clock.advance(hours=1)
    fresh = await clinic.patient()
    assert (await request_consultation(clinic, fresh, doctor)).status_code == 201


async def test_holds_are_throttled(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> None:
    scheduling = Scheduling(client, accounts, runtime)
    doctor, _ = await scheduling.doctor()
    _, amina = await scheduling.patient()
    answers = [
        await client.post(
            "/api/holds", json={"doctor_id": str(doctor.id), "starts_at": TUESDAY_9}, headers=amina
        )
        for _ in range(4)
    ]
    assert [answer.status_code for answer in answers[:3]] == [201, 201, 201]
    assert_throttled(answers[3])


async def test_uploads_are_throttled(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    answers = [
        await clinic.client.post(
            f"/api/consultations/{consultation.id}/attachments",
            files={"file": ("scan.png", png, "image/png")},
            headers=patient.headers,
        )
        for _ in range(3)
    ]
    assert [answer.status_code for answer in answers[:2]] == [201, 201]
    assert_throttled(answers[2])


async def test_sms_to_one_person_stops_at_the_budget_and_in_app_stays(
    runtime: Runtime, accounts: Accounts, session: AsyncSession
) -> None:
    patient = await accounts.make(Role.patient)
    for _ in range(5):
        await notify(runtime, patient.id, Kind.booking_cancelled)
    channels = await session.execute(
        select(Delivery.channel, func.count())
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Notification.user_id == patient.id)
        .group_by(Delivery.channel)
    )
    assert {channel: count for channel, count in channels.all()} == {
        Channel.in_app: 5,
        Channel.sms: 3,
    }


async def test_urgent_notifications_go_out_past_the_budget(
    runtime: Runtime, accounts: Accounts, session: AsyncSession
) -> None:
    patient = await accounts.make(Role.patient)
    urgent = [kind for kind in Kind if _is_urgent(kind)]
    assert urgent
    for _ in range(5):
        await notify(runtime, patient.id, urgent[0])
    sent = await session.scalar(
        select(func.count())
        .select_from(Delivery)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Notification.user_id == patient.id, Delivery.channel != Channel.in_app)
    )
    assert sent is not None
    assert sent >= 5


def _is_urgent(kind: Kind) -> bool:
    return templates.TEMPLATES[kind].priority is Priority.urgent
