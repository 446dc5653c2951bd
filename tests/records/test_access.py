"""The access matrix: the patient, their doctor, another doctor, another patient, a
receptionist, an admin and an anonymous caller against every route of the record.

Whoever may not see a record gets the same 404 as for one that does not exist; whoever may
see it but not do a thing gets 403. The verification page is public.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from clinicflow.identity.schemas import Role
from tests.consultations.clinic import Person
from tests.records.clinic import NOTE, PRESCRIPTION, RecordsClinic

pytestmark = pytest.mark.usefixtures("app")
CALLERS = (
    "patient",
    "own_doctor",
    "other_doctor",
    "other_patient",
    "receptionist",
    "admin",
    "anonymous",
)
# route -> the status each caller gets, in CALLERS order.
EXPECTED: dict[str, tuple[int, ...]] = {
    "GET visit-note": (200, 200, 404, 404, 404, 200, 404),
    "PUT visit-note": (403, 200, 404, 404, 404, 403, 404),
    "POST prescriptions": (403, 201, 404, 404, 404, 403, 404),
    "GET prescription": (200, 200, 404, 404, 404, 200, 404),
    "GET prescription.pdf": (200, 200, 404, 404, 404, 200, 404),
    "GET history": (200, 200, 404, 404, 200, 200, 404),
    "GET export.pdf": (200, 403, 404, 404, 404, 403, 404),
    "GET export.fhir.json": (200, 403, 404, 404, 404, 403, 404),
    "GET verify": (200, 200, 200, 200, 200, 200, 200),
}


@dataclass
class World:
    people: dict[str, Person | None]
    consultation_id: uuid.UUID
    patient_id: uuid.UUID
    prescription_id: uuid.UUID
    code: str


async def world(clinic: RecordsClinic) -> World:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    assert (await clinic.note(doctor, visit.id)).status_code == 200
    issued = await clinic.prescribe(doctor, visit.id)
    assert issued.status_code == 201, issued.text
    people: dict[str, Person | None] = {
        "patient": patient,
        "own_doctor": doctor,
        "other_doctor": await clinic.doctor(),
        "other_patient": await clinic.patient(),
        "receptionist": await clinic.staff(Role.receptionist),
        "admin": await clinic.staff(Role.admin),
        "anonymous": None,
    }
    return World(
        people, visit.id, patient.id, issued.json()["id"], issued.json()["verification_code"]
    )


async def call(clinic: RecordsClinic, w: World, route: str, person: Person | None) -> int:
    headers = person.headers if person else {}
    method, name = route.split(" ")
    path = {
        "visit-note": f"/api/consultations/{w.consultation_id}/visit-note",
        "prescriptions": f"/api/consultations/{w.consultation_id}/prescriptions",
        "prescription": f"/api/prescriptions/{w.prescription_id}",
        "prescription.pdf": f"/api/prescriptions/{w.prescription_id}.pdf",
        "history": f"/api/patients/{w.patient_id}/history",
        "export.pdf": f"/api/patients/{w.patient_id}/export.pdf",
        "export.fhir.json": f"/api/patients/{w.patient_id}/export.fhir.json",
        "verify": f"/verify/{w.code}",
    }[name]
    body = {"PUT": {**NOTE, "diagnosis": "Changed"}, "POST": PRESCRIPTION}.get(method)
    response = await clinic.client.request(method, path, json=body, headers=headers)
    return response.status_code


@pytest.mark.parametrize("route", list(EXPECTED))
async def test_every_caller_against_every_route(clinic: RecordsClinic, route: str) -> None:
    w = await world(clinic)
    got = {caller: await call(clinic, w, route, w.people[caller]) for caller in CALLERS}
    assert got == dict(zip(CALLERS, EXPECTED[route], strict=True))


async def test_the_receptionist_sees_appointments_without_clinical_content(
    clinic: RecordsClinic,
) -> None:
    w = await world(clinic)
    receptionist = w.people["receptionist"]
    assert receptionist is not None
    page = await clinic.client.get(
        f"/api/patients/{w.patient_id}/history", headers=receptionist.headers
    )
    assert page.json()["items"] == []  # the one consultation is clinical; no appointment
    searched = await clinic.client.get(
        f"/api/patients/{w.patient_id}/history",
        params={"q": "throat"},
        headers=receptionist.headers,
    )
    assert searched.status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/api/consultations/{id}/visit-note",
        "/api/prescriptions/{id}",
        "/api/prescriptions/{id}.pdf",
        "/api/patients/{id}/history",
        "/api/patients/{id}/export.pdf",
        "/api/patients/{id}/export.fhir.json",
    ],
)
async def test_a_missing_record_answers_like_a_forbidden_one(
    clinic: RecordsClinic, path: str
) -> None:
    admin = await clinic.staff(Role.admin)
    missing = await clinic.client.get(path.format(id=uuid.uuid4()), headers=admin.headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_a_doctor_with_only_an_appointment_reads_the_record(
    clinic: RecordsClinic, frozen_clock: object
) -> None:
    patient, treating, booked = await clinic.patient(), await clinic.doctor(), await clinic.doctor()
    visit = await clinic.visit(patient, treating)
    await clinic.note(treating, visit.id)
    await clinic.working_week(booked)
    await clinic.appointment(patient, booked, datetime(2026, 3, 3, 6, 0, tzinfo=UTC))

    note = await clinic.client.get(
        f"/api/consultations/{visit.id}/visit-note", headers=booked.headers
    )
    assert note.status_code == 200
    # …but cannot write in another doctor's consultation.
    assert (await clinic.note(booked, visit.id)).status_code == 404
