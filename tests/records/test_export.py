"""The whole record, for the patient to take elsewhere: one PDF, and a FHIR R4 bundle that
validates against the R4 structure.

fhir.resources (8.x, the releases that work with Pydantic 2) ships R4B, the 4.3 release that
carries R4's resources unchanged for everything used here; R4 (4.0.1) itself is only in the
Pydantic 1 releases. The bundle uses no element that R4 lacks.
"""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from tests.records.clinic import RecordsClinic

pytestmark = pytest.mark.usefixtures("app")


async def full_record(clinic: RecordsClinic) -> dict[str, Any]:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    await clinic.working_week(doctor)
    appointment = await clinic.appointment(patient, doctor, datetime(2026, 3, 3, 6, tzinfo=UTC))
    visit = await clinic.consultation(patient, doctor)
    await clinic.client.post(f"/api/consultations/{visit.id}/accept", headers=doctor.headers)
    await clinic.send(patient, visit.id, "My throat hurts")
    await clinic.send(doctor, visit.id, "Open wide, please")
    await clinic.client.post(f"/api/consultations/{visit.id}/end", headers=doctor.headers)
    await clinic.note(doctor, visit.id, body_markdown="Tonsils <b>swollen</b> & red")
    first = (await clinic.prescribe(doctor, visit.id)).json()
    await clinic.prescribe(doctor, visit.id, supersedes_id=first["id"])
    return {"patient": patient, "doctor": doctor, "appointment": appointment, "visit": visit}


async def test_the_fhir_bundle_validates_and_holds_every_part(
    clinic: RecordsClinic, frozen_clock: FrozenClock
) -> None:
    world = await full_record(clinic)
    patient = world["patient"]
    response = await clinic.client.get(
        f"/api/patients/{patient.id}/export.fhir.json",
        headers=patient.headers,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    bundle = response.json()
    Bundle.model_validate(bundle)  # raises on anything R4's structure does not allow
    assert bundle["type"] == "collection"
    kinds = Counter(entry["resource"]["resourceType"] for entry in bundle["entry"])
    assert kinds == {
        "Patient": 1,
        "Practitioner": 1,
        "Appointment": 1,
        "Encounter": 1,
        "Condition": 1,
        "Communication": 2,
        "MedicationRequest": 4,
    }
    urls = {entry["fullUrl"] for entry in bundle["entry"]}
    assert len(urls) == len(bundle["entry"])
    references = [
        value["reference"]
        for entry in bundle["entry"]
        for value in _walk(entry["resource"])
        if isinstance(value, dict) and "reference" in value
    ]
    assert references
    assert set(references) <= urls  # the bundle stands on its own
    requests = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
    ]
    assert Counter(r["status"] for r in requests) == {"cancelled": 2, "active": 2}
    encounter = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter"
    )
    assert "&lt;b&gt;swollen&lt;/b&gt; &amp; red" in encounter["text"]["div"]


def _walk(value: object) -> list[object]:
    found: list[object] = [value]
    if isinstance(value, dict):
        for inner in value.values():
            found += _walk(inner)
    elif isinstance(value, list):
        for inner in value:
            found += _walk(inner)
    return found


async def test_the_pdf_of_the_whole_record(
    clinic: RecordsClinic, frozen_clock: FrozenClock, session: AsyncSession
) -> None:
    world = await full_record(clinic)
    patient = world["patient"]
    response = await clinic.client.get(
        f"/api/patients/{patient.id}/export.pdf?lang=en",
        headers=patient.headers,
    )
    assert response.status_code == 200
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    for expected in (
        "Medical record",
        patient.user.name,
        "Amoxicillin",
        "Acute tonsillitis",
        "Appointment",
        "Consultation",
    ):
        assert expected in text, expected
    exports = list(
        await session.scalars(select(AuditEntry).where(AuditEntry.action == "records.exported"))
    )
    assert [(e.actor_id, e.details["format"]) for e in exports] == [(patient.id, "pdf")]
