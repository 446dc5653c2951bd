"""The patient's allergies, conditions and medications: kept by their doctors, read by the
record's readers, every change a version, every read and change audited (without clinical
values), removal kept as "entered in error"."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import AuditEntry
from clinicflow.identity.schemas import Role
from clinicflow.records.models import ClinicalItemVersion, ImmutableRecord
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Person
from tests.records.clinic import ALLERGY, CONDITION, RecordsClinic, add_to_list, tamper

pytestmark = pytest.mark.usefixtures("app")
CALLERS = ("patient", "own_doctor", "other_doctor", "receptionist", "admin", "anonymous")
# what each caller gets, in CALLERS order
EXPECTED = {
    "GET list": (200, 200, 404, 404, 200, 404),
    "POST list": (403, 201, 404, 404, 403, 404),
    "PATCH item": (403, 200, 404, 404, 403, 404),
    "GET versions": (200, 200, 404, 404, 200, 404),
    "DELETE item": (403, 204, 404, 404, 403, 404),
}
KINDS = ("allergies", "conditions", "medications")


async def people(clinic: RecordsClinic) -> tuple[Person, Person, dict[str, Person | None]]:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    await clinic.visit(patient, doctor)
    return (
        patient,
        doctor,
        {
            "patient": patient,
            "own_doctor": doctor,
            "other_doctor": await clinic.doctor(),
            "receptionist": await clinic.staff(Role.receptionist),
            "admin": await clinic.staff(Role.admin),
            "anonymous": None,
        },
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_access_matrix(clinic: RecordsClinic, kind: str) -> None:
    patient, doctor, callers = await people(clinic)
    got: dict[str, tuple[int, ...]] = {}
    for route in EXPECTED:
        statuses = []
        for name in CALLERS:
            person = callers[name]
            headers = person.headers if person else {}
            # A fresh line for every call, so a DELETE that works does not hide the next one.
            made = await add_to_list(clinic, doctor, patient.id, kind)
            assert made.status_code == 201, made.text
            item = made.json()["id"]
            method, target = route.split(" ")
            if target == "list":
                url = f"/api/patients/{patient.id}/{kind}"
            elif target == "versions":
                url = f"/api/{kind}/{item}/versions"
            else:
                url = f"/api/{kind}/{item}"
            body = {"status": "resolved" if kind != "medications" else "stopped"}
            response = await clinic.client.request(
                method,
                url,
                headers=headers,
                json=(
                    {**{"allergies": ALLERGY, "conditions": CONDITION}.get(kind, {"name": "X"})}
                    if method == "POST"
                    else body
                    if method == "PATCH"
                    else None
                ),
            )
            statuses.append(response.status_code)
        got[route] = tuple(statuses)
    assert got == EXPECTED


async def test_a_missing_patient_or_line_answers_like_a_forbidden_one(
    clinic: RecordsClinic,
) -> None:
    _patient, doctor, _ = await people(clinic)
    missing = uuid.uuid4()
    assert (await add_to_list(clinic, doctor, missing, "allergies")).status_code == 404
    for method in ("PATCH", "DELETE"):
        response = await clinic.client.request(
            method, f"/api/allergies/{missing}", headers=doctor.headers, json={}
        )
        assert response.status_code == 404


async def test_every_change_is_a_version_and_removal_keeps_them(
    clinic: RecordsClinic, session: AsyncSession
) -> None:
    patient, doctor, _ = await people(clinic)
    made = (await add_to_list(clinic, doctor, patient.id, "allergies")).json()
    assert made["version"] == 1
    assert made["status"] == "active"
    assert made["recorded_by"] == str(doctor.id)
    assert made["recorded_by_name"]
    url = f"/api/allergies/{made['id']}"
    changed = await clinic.client.patch(url, json={"severity": "moderate"}, headers=doctor.headers)
    assert changed.json()["version"] == 2
    assert changed.json()["severity"] == "moderate"
    # The same values again store nothing new.
    again = await clinic.client.patch(url, json={"severity": "moderate"}, headers=doctor.headers)
    assert again.json()["version"] == 2
    resolved = await clinic.client.patch(url, json={"status": "resolved"}, headers=doctor.headers)
    assert resolved.json()["version"] == 3
    assert (await clinic.client.delete(url, headers=doctor.headers)).status_code == 204

    listed = await clinic.client.get(
        f"/api/patients/{patient.id}/allergies", headers=doctor.headers
    )
    assert listed.json() == []
    history = (await clinic.client.get(f"{url}/versions", headers=doctor.headers)).json()
    assert [(v["version"], v["status"], v["values"]["severity"]) for v in history["versions"]] == [
        (1, "active", "severe"),
        (2, "active", "moderate"),
        (3, "resolved", "moderate"),
        (4, "entered_in_error", "moderate"),
    ]
    assert all(v["author_id"] == str(doctor.id) for v in history["versions"])
    # A removed line can no longer be changed.
    assert (await clinic.client.patch(url, json={}, headers=doctor.headers)).status_code == 404


async def test_stored_versions_are_never_changed(clinic: RecordsClinic, runtime: Runtime) -> None:
    patient, doctor, _ = await people(clinic)
    await add_to_list(clinic, doctor, patient.id, "conditions")
    with pytest.raises(ImmutableRecord):
        await tamper(runtime, ClinicalItemVersion, status="resolved")


async def test_reads_and_changes_are_audited_without_clinical_values(
    clinic: RecordsClinic, session: AsyncSession
) -> None:
    patient, doctor, callers = await people(clinic)
    admin = callers["admin"]
    assert admin is not None
    made = (await add_to_list(clinic, doctor, patient.id, "allergies")).json()
    await clinic.client.patch(
        f"/api/allergies/{made['id']}", json={"reaction": "Swollen lips"}, headers=doctor.headers
    )
    for person in (patient, doctor, admin):
        await clinic.client.get(f"/api/patients/{patient.id}/allergies", headers=person.headers)
    await clinic.client.delete(f"/api/allergies/{made['id']}", headers=doctor.headers)
    rows = list(
        await session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("records.%")).order_by(AuditEntry.seq)
        )
    )
    assert [(r.action, r.actor_id) for r in rows] == [
        ("records.allergy_recorded", doctor.id),
        ("records.allergy_changed", doctor.id),
        ("records.allergies_read", doctor.id),
        ("records.allergies_read", admin.id),
        ("records.allergy_removed", doctor.id),
    ]
    assert rows[1].details == {
        "patient_id": str(patient.id),
        "version": 2,
        "status": "active",
        "fields": ["reaction"],
    }
    text = repr([r.details for r in rows])
    for value in ("Penicillin", "Hives", "Swollen lips"):
        assert value not in text


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("allergies", {"substance": "", "severity": "severe"}),
        ("allergies", {"substance": "Latex", "severity": "deadly"}),
        ("allergies", {"substance": "Latex", "severity": "mild", "status": "entered_in_error"}),
        ("conditions", {"name": "Asthma", "icd10": "asthma"}),
        ("conditions", {"name": "Asthma", "icd10": "U07.1"}),
        ("conditions", {"name": "Asthma", "onset": "yesterday"}),
        ("medications", {"name": "Salbutamol", "status": "resolved"}),
    ],
)
async def test_bad_lines_are_refused(
    clinic: RecordsClinic, kind: str, body: dict[str, str]
) -> None:
    patient, doctor, _ = await people(clinic)
    response = await clinic.client.post(
        f"/api/patients/{patient.id}/{kind}", json=body, headers=doctor.headers
    )
    assert response.status_code == 422


@pytest.mark.parametrize("code", ["J45", "j45.9", "S72.001A", "E11.65", "O09.3"])
async def test_icd10_codes_of_the_right_shape_are_kept_upper_case(
    clinic: RecordsClinic, code: str
) -> None:
    patient, doctor, _ = await people(clinic)
    made = await add_to_list(clinic, doctor, patient.id, "conditions", icd10=code)
    assert made.status_code == 201, made.text
    assert made.json()["icd10"] == code.upper()


async def test_medications_stop_by_patch(clinic: RecordsClinic) -> None:
    patient, doctor, _ = await people(clinic)
    made = (await add_to_list(clinic, doctor, patient.id, "medications")).json()
    stopped = await clinic.client.patch(
        f"/api/medications/{made['id']}", json={"status": "stopped"}, headers=doctor.headers
    )
    assert stopped.json()["status"] == "stopped"
    listed = await clinic.client.get(
        f"/api/patients/{patient.id}/medications", headers=patient.headers
    )
    assert [m["status"] for m in listed.json()] == ["stopped"]
