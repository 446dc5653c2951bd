"""The access rules as a matrix over statuses and roles.

Whoever may not read a consultation (other doctors, other patients, receptionists,
anonymous callers) gets the same 404 as for one that does not exist; whoever may read it
but not do something gets 403; the right person in the wrong status gets 409.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.identity.schemas import Role
from tests.consultations.clinic import Clinic, Person

pytestmark = pytest.mark.usefixtures("app")
S = ConsultationStatus
ROLES = (
    "patient",
    "own_doctor",
    "other_doctor",
    "other_patient",
    "receptionist",
    "admin",
    "anonymous",
)
OUTSIDERS = ("other_doctor", "other_patient", "receptionist", "anonymous")
ALL = tuple(S)


@dataclass(frozen=True)
class Expect:
    read: int
    write: int
    notes_read: int
    notes_write: int
    # None: the doctor, who moves it as the transition rules say (test_lifecycle).
    transition: int | None


def expected(role: str, status: S) -> Expect:
    if role in OUTSIDERS:
        return Expect(404, 404, 404, 404, 404)
    if role == "patient":
        return Expect(200, 201 if status is S.active else 409, 403, 403, 403)
    if role == "admin":
        return Expect(200, 403, 200, 403, 403)
    doctor_writes = status in (S.pending, S.active)
    return Expect(
        200,
        201 if doctor_writes else 409,
        200,
        200 if doctor_writes else 409,
        None,
    )


async def person_for(clinic: Clinic, role: str, patient: Person, doctor: Person) -> Person | None:
    if role == "patient":
        return patient
    if role == "own_doctor":
        return doctor
    if role == "other_doctor":
        return await clinic.doctor()
    if role == "other_patient":
        return await clinic.patient()
    if role == "anonymous":
        return None
    return await clinic.staff(Role(role))


@pytest.mark.parametrize("status", ALL)
@pytest.mark.parametrize("role", ROLES)
async def test_access_matrix(clinic: Clinic, role: str, status: S) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, status)
    who = await person_for(clinic, role, patient, doctor)
    headers = who.headers if who else {}
    want = expected(role, status)
    base = f"/api/consultations/{consultation.id}"
    http = clinic.client

    async def code(method: str, path: str, **kwargs: object) -> int:
        response = await http.request(method, f"{base}{path}", headers=headers, **kwargs)  # type: ignore[arg-type]
        return response.status_code

    assert await code("GET", "") == want.read
    assert await code("GET", "/messages") == want.read
    assert (
        await code("POST", "/messages", json={"client_id": uuid.uuid4().hex, "body": "hi"})
        == want.write
    )
    assert await code("GET", "/notes") == want.notes_read
    assert await code("PUT", "/notes", json={"notes": "private"}) == want.notes_write
    # Every move is refused to everyone but the doctor; the doctor's refused moves go
    # first and an allowed one last, so it does not change what the others see.
    allowed = {S.pending: ["accept"], S.active: ["end"]}.get(status, [])
    refused = [
        a
        for a in ("accept", "decline", "end")
        if a not in allowed and not (status is S.pending and a == "decline")
    ]
    for action in [*refused, *allowed]:
        body = {"reason": "Not today"} if action == "decline" else None
        answer = await code("POST", f"/{action}", json=body)
        if want.transition is not None:
            assert answer == want.transition, action
        else:
            assert answer == (200 if action in allowed else 409), action


@pytest.mark.parametrize("role", ROLES)
async def test_a_missing_consultation_looks_the_same_to_everyone(clinic: Clinic, role: str) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    who = await person_for(clinic, role, patient, doctor)
    headers = who.headers if who else {}
    missing = f"/api/consultations/{uuid.uuid4()}"
    for method, path in (("GET", ""), ("GET", "/messages"), ("GET", "/notes"), ("POST", "/end")):
        response = await clinic.client.request(method, f"{missing}{path}", headers=headers)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "not_found"


async def test_notes_are_never_in_the_consultation_the_patient_sees(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, S.active)
    base = f"/api/consultations/{consultation.id}"
    saved = await clinic.client.put(
        f"{base}/notes", json={"notes": "Suspect migraine"}, headers=doctor.headers
    )
    assert saved.status_code == 200, saved.text
    assert (await clinic.client.get(f"{base}/notes", headers=doctor.headers)).json() == {
        "notes": "Suspect migraine"
    }
    for path in ("", "/messages"):
        seen = await clinic.client.get(f"{base}{path}", headers=patient.headers)
        assert "migraine" not in seen.text
    listed = await clinic.client.get("/api/consultations", headers=patient.headers)
    assert "migraine" not in listed.text
