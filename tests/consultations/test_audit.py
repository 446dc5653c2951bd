"""The audit rows a consultation leaves carry the caller's address, which the request
boundary binds to the unit of work (no verb is handed it)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import AuditEntry
from tests.consultations.clinic import Clinic

pytestmark = pytest.mark.usefixtures("app")
# The test client's address (tests/conftest.py, docs/testing.md).
CLIENT_ADDRESS = "203.0.113.7"


async def test_audited_reads_and_changes_store_the_callers_address(
    clinic: Clinic, session: AsyncSession
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    started = await clinic.client.post(
        "/api/consultations",
        json={"doctor_id": str(doctor.id), "problem": "Rash on my arm", "type": "chat"},
        headers=patient.headers,
    )
    assert started.status_code == 201, started.text
    consultation = f"/api/consultations/{started.json()['id']}"
    changes = [
        await clinic.client.post(f"{consultation}/accept", headers=doctor.headers),
        await clinic.client.put(
            f"{consultation}/notes", json={"notes": "Eczema?"}, headers=doctor.headers
        ),
    ]
    reads = [
        await clinic.client.get(f"{consultation}/notes", headers=doctor.headers),
        await clinic.client.get(f"{consultation}/messages", headers=doctor.headers),
    ]
    assert [r.status_code for r in changes + reads] == [200] * 4

    rows = list(
        await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.resource_id == str(uuid.UUID(started.json()["id"])))
            .order_by(AuditEntry.seq)
        )
    )
    assert [(r.action, r.ip) for r in rows] == [
        ("consultation.start", CLIENT_ADDRESS),
        ("consultation.accepted", CLIENT_ADDRESS),
        ("consultation.notes_update", CLIENT_ADDRESS),
        ("consultation.notes_read", CLIENT_ADDRESS),
        ("consultation.messages_read", CLIENT_ADDRESS),
    ]
