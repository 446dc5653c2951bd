"""Stored notes and prescriptions are not readable as plain text: not in their columns, and
(on SQLite) nowhere in the database file or its write-ahead log."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.records.clinic import RecordsClinic, add_to_list

pytestmark = pytest.mark.usefixtures("app")
SECRETS = ("Bilharzia", "Praziquantel", "schistosomiasis", "Drink boiled water")


def file_bytes(path: Path) -> bytes:
    """The database file and its write-ahead log, read by another process: closing a file
    this process opened on the database would drop SQLite's POSIX locks on it (a known
    SQLite hazard) and let later writers corrupt it."""
    files = [str(p) for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    return subprocess.run(["cat", *files], capture_output=True, check=True, timeout=30).stdout


async def test_notes_and_prescriptions_are_ciphertext_at_rest(
    clinic: RecordsClinic, session: AsyncSession, database_url: str
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    await clinic.note(
        doctor, visit.id, body_markdown="Suspected schistosomiasis", diagnosis="Bilharzia"
    )
    await clinic.note(doctor, visit.id, body_markdown="Confirmed schistosomiasis")
    issued = await clinic.prescribe(
        doctor,
        visit.id,
        medications=[{"name": "Praziquantel", "dosage": "40 mg/kg"}],
        dietary_instructions="Drink boiled water",
    )
    assert issued.status_code == 201

    stored = [
        row[0]
        for query in (
            "SELECT body_markdown FROM visit_note_versions",
            "SELECT diagnosis FROM visit_note_versions",
            "SELECT content FROM prescriptions",
        )
        for row in await session.execute(text(query))
    ]
    assert len(stored) == 5
    assert all(value.startswith("gAAAA") for value in stored)
    for secret in SECRETS:
        assert all(secret not in value for value in stored)

    if database_url.startswith("sqlite"):
        raw = file_bytes(Path(database_url.split("///", 1)[1]))
        assert issued.json()["verification_code"].encode() in raw  # the file is the right one
        for secret in SECRETS:
            assert secret.encode() not in raw

    # Through the application everything reads back as written.
    note = await clinic.client.get(
        f"/api/consultations/{visit.id}/visit-note", headers=doctor.headers
    )
    assert note.json()["history"][0]["diagnosis"] == "Bilharzia"
    assert issued.json()["medications"][0]["name"] == "Praziquantel"


async def test_allergies_and_conditions_are_ciphertext_at_rest(
    clinic: RecordsClinic, session: AsyncSession, database_url: str
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    await clinic.visit(patient, doctor)
    allergy = await add_to_list(
        clinic, doctor, patient.id, "allergies", substance="Quinine", reaction="Tinnitus"
    )
    await clinic.client.patch(
        f"/api/allergies/{allergy.json()['id']}",
        json={"reaction": "Blackwater fever"},
        headers=doctor.headers,
    )
    await add_to_list(clinic, doctor, patient.id, "conditions", name="Sickle cell disease")
    await add_to_list(clinic, doctor, patient.id, "medications", name="Hydroxyurea")
    words = ("Quinine", "Tinnitus", "Blackwater", "Sickle cell", "Hydroxyurea")
    stored = [
        row[0]
        for query in (
            "SELECT content FROM clinical_items",
            "SELECT content FROM clinical_item_versions",
        )
        for row in await session.execute(text(query))
    ]
    assert len(stored) == 3 + 4
    assert all(value.startswith("gAAAA") for value in stored)
    if database_url.startswith("sqlite"):
        raw = file_bytes(Path(database_url.split("///", 1)[1]))
        assert str(patient.id).replace("-", "").encode() in raw or patient.id.bytes in raw
        for word in words:
            assert word.encode() not in raw
    listed = await clinic.client.get(
        f"/api/patients/{patient.id}/allergies", headers=patient.headers
    )
    assert listed.json()[0]["reaction"] == "Blackwater fever"
