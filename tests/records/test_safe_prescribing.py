"""Safe prescribing: a medicine that meets an active allergy (by substance or by class) or
duplicates an active medication is refused with 409 unless the doctor gives a reason; the
reason is kept for staff and never reaches the patient's copy."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import AuditEntry
from clinicflow.core.errors import AppError
from clinicflow.identity.schemas import Role
from clinicflow.records import formulary, schemas
from clinicflow.records import service as records
from clinicflow.runtime import Runtime
from tests.consultations.clinic import MEET, Person
from tests.factories import Accounts
from tests.records.clinic import PRESCRIPTION, RecordsClinic, add_to_list

pytestmark = pytest.mark.usefixtures("app")
REASON = "Tolerated a full course in 2024 under observation"
PROPERTY = examples(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
CLASSES = sorted(formulary.classes())
THERAPEUTIC = sorted({m.therapeutic_class for m in formulary.medicines() if m.therapeutic_class})


def members(group: str, *, therapeutic: bool = False) -> list[str]:
    return sorted(
        {
            m.name
            for m in formulary.medicines()
            if (m.therapeutic_class == group if therapeutic else group in m.classes)
        }
    )


def spelled(group: str, draw: Any) -> str:
    """A class as a doctor might type it: the list's plural or the singular, in any case."""
    singular = group[:-1] if group.endswith("s") else group
    word = draw(st.sampled_from([group, singular]))
    return str(draw(st.sampled_from([word, word.upper(), word.title()])))


class World:
    """A patient with an ended visit to their doctor, made through the services."""

    def __init__(self, clinic: RecordsClinic, accounts: Accounts, runtime: Runtime) -> None:
        self.clinic, self.accounts, self.runtime = clinic, accounts, runtime

    async def make(self) -> tuple[Any, Any, Any]:
        patient = await self.accounts.make(Role.patient)
        doctor = await self.accounts.make(Role.doctor, profile={"meet_url": MEET})
        visit = await self.clinic.visit(Person(patient, {}), Person(doctor, {}))
        return patient, doctor, visit

    async def add(self, doctor: Any, patient: Any, kind: schemas.Kind, entry: Any) -> Any:
        async with self.runtime.transaction() as session:
            return await records.record_item(
                session=session, actor=doctor, patient_id=patient.id, kind=kind, entry=entry
            )

    async def issue(self, doctor: Any, visit: Any, medicine: str, reason: str | None) -> Any:
        async with self.runtime.transaction() as session:
            return await records.issue_prescription(
                session=session,
                actor=doctor,
                consultation_id=visit.id,
                prescription=schemas.PrescriptionIn(
                    medications=[schemas.MedicationIn(name=medicine)], override_reason=reason
                ),
            )


@pytest.fixture
def world(clinic: RecordsClinic, accounts: Accounts, runtime: Runtime) -> World:
    return World(clinic, accounts, runtime)


@PROPERTY
@given(data=st.data())
async def test_an_allergy_to_a_class_refuses_every_member_unless_overridden(
    world: World, data: st.DataObject
) -> None:
    group = data.draw(st.sampled_from(CLASSES), label="class")
    medicine = data.draw(st.sampled_from(members(group)), label="medicine")
    allergy = spelled(group, data.draw)
    patient, doctor, visit = await world.make()
    await world.add(
        doctor, patient, schemas.Kind.allergy, schemas.AllergyIn(substance=allergy, severity="mild")
    )
    with pytest.raises(AppError) as refused:
        await world.issue(doctor, visit, medicine, None)
    assert (refused.value.code, refused.value.status) == ("allergy_conflict", 409)
    assert refused.value.details["medicine"] == medicine
    assert refused.value.details["allergy"] == allergy
    assert await world.issue(doctor, visit, medicine, REASON) is not None


@PROPERTY
@given(data=st.data())
async def test_a_resolved_allergy_never_blocks(world: World, data: st.DataObject) -> None:
    group = data.draw(st.sampled_from(CLASSES), label="class")
    medicine = data.draw(st.sampled_from(members(group)), label="medicine")
    patient, doctor, visit = await world.make()
    for substance in (group, medicine):
        await world.add(
            doctor,
            patient,
            schemas.Kind.allergy,
            schemas.AllergyIn(substance=substance, severity="severe", status="resolved"),
        )
    assert await world.issue(doctor, visit, medicine, None) is not None


@PROPERTY
@given(data=st.data())
async def test_the_same_medicine_or_therapeutic_class_twice_is_duplicate_therapy(
    world: World, data: st.DataObject
) -> None:
    group = data.draw(st.sampled_from(THERAPEUTIC), label="class")
    current = data.draw(st.sampled_from(members(group, therapeutic=True)), label="current")
    medicine = data.draw(st.sampled_from(members(group, therapeutic=True)), label="new")
    stopped = data.draw(st.booleans(), label="stopped")
    patient, doctor, visit = await world.make()
    await world.add(
        doctor,
        patient,
        schemas.Kind.medication,
        schemas.MedicationEntryIn(name=current, status="stopped" if stopped else "active"),
    )
    if stopped:
        assert await world.issue(doctor, visit, medicine, None) is not None
        return
    with pytest.raises(AppError) as refused:
        await world.issue(doctor, visit, medicine, None)
    assert (refused.value.code, refused.value.status) == ("duplicate_therapy", 409)
    assert refused.value.details["medicine"] == medicine
    assert refused.value.details["medication"] == current
    assert await world.issue(doctor, visit, medicine, REASON) is not None


@pytest.mark.parametrize(
    ("allergy", "medicine"),
    [
        ("amoxicillin", "Amoxicillin + clavulanic acid"),
        ("Amoxicillin", "ampicillin"),
        ("co-trimoxazole", "sulfamethoxazole + trimethoprim"),
        ("Sulfa", "Co-trimoxazole"),
        ("NSAID", "Ibuprofen 400 mg"),
        ("ibuprofen", "diclofenac"),
        ("Latex gloves", "latex gloves"),
    ],
)
def test_allergies_meet_medicines_by_name_substance_and_class(allergy: str, medicine: str) -> None:
    from clinicflow.records.service import safety

    assert safety.allergy_meets(allergy, medicine) is not None


@pytest.mark.parametrize(
    ("allergy", "medicine"),
    [("amoxicillin", "ceftriaxone"), ("penicillin", "azithromycin"), ("sulfa", "paracetamol")],
)
def test_unrelated_medicines_pass(allergy: str, medicine: str) -> None:
    from clinicflow.records.service import safety

    assert safety.allergy_meets(allergy, medicine) is None


async def test_two_rows_of_one_prescription_can_duplicate_each_other(clinic: RecordsClinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    refused = await clinic.prescribe(
        doctor, visit.id, medications=[{"name": "Ibuprofen"}, {"name": "Diclofenac"}]
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "duplicate_therapy"
    assert refused.json()["error"]["details"]["class"] == "nsaids"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def test_the_override_reason_is_for_the_doctor_never_the_patient(
    clinic: RecordsClinic, session: AsyncSession
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    assert (await add_to_list(clinic, doctor, patient.id, "allergies")).status_code == 201
    body = {**PRESCRIPTION, "medications": [{"name": "Amoxicillin", "quantity": 21}]}
    refused = await clinic.client.post(
        f"/api/consultations/{visit.id}/prescriptions", json=body, headers=doctor.headers
    )
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "allergy_conflict"
    assert (error["details"]["medicine"], error["details"]["allergy"]) == (
        "Amoxicillin",
        "Penicillin",
    )
    blank = await clinic.client.post(
        f"/api/consultations/{visit.id}/prescriptions",
        json={**body, "override_reason": "   "},
        headers=doctor.headers,
    )
    assert blank.status_code == 422
    issued = await clinic.client.post(
        f"/api/consultations/{visit.id}/prescriptions",
        json={**body, "override_reason": REASON},
        headers=doctor.headers,
    )
    assert issued.status_code == 201, issued.text
    assert issued.json()["override_reason"] == REASON
    assert issued.json()["medications"][0]["quantity"] == "21"
    ident = issued.json()["id"]

    doctors_view = await clinic.client.get(f"/api/prescriptions/{ident}", headers=doctor.headers)
    assert doctors_view.json()["override_reason"] == REASON
    assert doctors_view.json()["overridden"][0]["code"] == "allergy_conflict"
    chart = await clinic.client.get(f"/patients/{patient.id}/chart", headers=doctor.headers)
    assert REASON in chart.text

    patients_view = await clinic.client.get(f"/api/prescriptions/{ident}", headers=patient.headers)
    assert patients_view.json()["override_reason"] is None
    assert patients_view.json()["overridden"] == []
    history = await clinic.client.get(
        f"/api/patients/{patient.id}/history", headers=patient.headers
    )
    assert REASON not in history.text
    page = await clinic.client.get("/records", headers=patient.headers)
    assert page.status_code == 200
    assert REASON not in page.text
    for person in (patient, doctor):
        for lang in ("en", "sw"):
            printed = await clinic.client.get(
                f"/api/prescriptions/{ident}.pdf?lang={lang}", headers=person.headers
            )
            text = pdf_text(printed.content)
            assert "Amoxicillin" in text
            assert "Tolerated" not in text
    export = await clinic.client.get(
        f"/api/patients/{patient.id}/export.pdf", headers=patient.headers
    )
    assert "Tolerated" not in pdf_text(export.content)

    audited = await session.scalar(
        select(AuditEntry).where(AuditEntry.action == "records.prescription_issued")
    )
    assert audited is not None
    assert audited.details["overridden"] == ["allergy_conflict"]
    assert "Tolerated" not in repr(audited.details)


async def test_the_check_warns_before_issue_and_stores_nothing(clinic: RecordsClinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    await add_to_list(clinic, doctor, patient.id, "allergies")
    await add_to_list(clinic, doctor, patient.id, "medications", name="Ibuprofen")
    url = f"/api/consultations/{visit.id}/prescriptions/check"
    checked = await clinic.client.post(
        url,
        json={"medications": [{"name": "amoxicillin"}, {"name": "Naproxen"}, {"name": ""}]},
        headers=doctor.headers,
    )
    assert checked.status_code == 200
    assert [(c["code"], c["medicine"]) for c in checked.json()["conflicts"]] == [
        ("allergy_conflict", "amoxicillin"),
        ("duplicate_therapy", "Naproxen"),
    ]
    fine = await clinic.client.post(
        url, json={"medications": [{"name": "Azithromycin"}]}, headers=doctor.headers
    )
    assert fine.json() == {"conflicts": []}
    other = await clinic.doctor()
    assert (await clinic.client.post(url, json={}, headers=other.headers)).status_code == 404
    assert (await clinic.client.post(url, json={}, headers=patient.headers)).status_code == 403
