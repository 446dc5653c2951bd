"""A change of the clinic's time zone changes the times people read next: the SMS (a
booking's reminder) and the prescription PDF, both labelled in the new zone."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import httpx
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from clinicflow.scheduling import jobs as scheduling_jobs
from tests.consultations.clinic import MEET, Person
from tests.factories import Accounts, bearer, login
from tests.notifications.helpers import told
from tests.queue.clinic import QueueClinic
from tests.records.clinic import RecordsClinic

THURSDAY_9 = "2026-03-05T06:00:00+00:00"  # 09:00 in Nairobi, 01:00 in New York


async def test_the_next_sms_is_in_the_new_zone(
    clinic: QueueClinic, runtime: Runtime, session: AsyncSession, frozen_clock: FrozenClock
) -> None:
    doctor, _doctor_headers = await clinic.doctor()
    patient, headers = await clinic.patient()
    assert (await clinic.book(headers, doctor, THURSDAY_9)).status_code == 201
    confirmed = await told(session, patient.id)
    assert "Mar 5, 2026, 09:00 (Africa/Nairobi)" in confirmed[0][2]

    admin = await clinic.staff(Role.admin)
    changed = await clinic.client.put(
        "/api/admin/clinic", json={"timezone": "America/New_York"}, headers=admin
    )
    assert changed.status_code == 200, changed.text

    frozen_clock.current = datetime(2026, 3, 4, 6, 1, tzinfo=UTC)
    async with runtime.transaction() as tx:
        assert await scheduling_jobs.send_due_reminders(session=tx) == 1
    kind, channels, body = (await told(session, patient.id))[-1]
    assert kind == "reminder_24h"
    assert "sms" in channels
    assert body == f"Reminder: you see {doctor.name} on Mar 5, 2026, 01:00 (America/New_York)."


def text_of(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def test_the_next_prescription_pdf_is_in_the_new_zone(
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    settings: Settings,
    frozen_clock: FrozenClock,
) -> None:
    records = RecordsClinic(client, accounts, runtime, settings)
    frozen_clock.current = datetime(2026, 3, 3, 6, 30, tzinfo=UTC)  # 09:30 in Nairobi
    patient = await records.patient()
    user = await accounts.make(Role.doctor, profile={"meet_url": MEET})
    doctor = Person(user, bearer(await login(client, user)))
    visit = await records.visit(patient, doctor)
    issued = (await records.prescribe(doctor, visit.id)).json()
    url = f"/api/prescriptions/{issued['id']}.pdf"

    before = text_of((await client.get(url, headers=patient.headers)).content)
    assert "Mar 3, 2026, 09:30 (Africa/Nairobi)" in before

    admin = await records.staff(Role.admin)
    changed = await client.put(
        "/api/admin/clinic",
        json={"timezone": "Asia/Tokyo", "name": "Afya Tokyo"},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    after = text_of((await client.get(url, headers=patient.headers)).content)
    assert "Mar 3, 2026, 15:30 (Asia/Tokyo)" in after  # 06:30 UTC in Tokyo
    assert "09:30" not in after
    assert "Afya Tokyo" in after
