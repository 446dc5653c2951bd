"""Prescriptions: issued by the consultation's doctor once it has ended, never changed (a
correction supersedes), printable as a PDF with a QR code of the verification page, and
checkable by anyone from the code."""

from __future__ import annotations

import asyncio
import io

import pytest
import zxingcpp
from pypdf import PdfReader

from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.records.models import ImmutableRecord, Prescription
from clinicflow.runtime import Runtime
from tests.records.clinic import MEDICATION, PRESCRIPTION, RecordsClinic, tamper

pytestmark = pytest.mark.usefixtures("app")
S = ConsultationStatus


def pdf_text(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


async def test_issued_with_id_time_and_code_and_readable_by_the_patient_at_once(
    clinic: RecordsClinic,
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    issued = await clinic.prescribe(doctor, visit.id)
    assert issued.status_code == 201
    body = issued.json()
    assert {"id", "issued_at", "verification_code"} <= body.keys()
    assert body["medications"][0] == MEDICATION
    assert body["verify_url"] == f"http://testserver/verify/{body['verification_code']}"
    read = await clinic.client.get(f"/api/prescriptions/{body['id']}", headers=patient.headers)
    assert read.status_code == 200
    assert read.json() == body


@pytest.mark.parametrize("status", [S.pending, S.active, S.declined])
async def test_not_before_the_consultation_has_ended(
    clinic: RecordsClinic, status: ConsultationStatus
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, status)
    refused = await clinic.prescribe(doctor, consultation.id)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "consultation_not_open"


@pytest.mark.parametrize(
    "change",
    [
        {"medications": []},
        {"medications": [{**MEDICATION, "name": ""}]},
        {"medications": [MEDICATION] * 21},
        {"medications": [{**MEDICATION, "colour": "red"}]},
        {"warning_signs": "x" * 4001},
    ],
)
async def test_bad_prescriptions_are_refused(
    clinic: RecordsClinic, change: dict[str, object]
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    refused = await clinic.prescribe(doctor, visit.id, **change)
    assert refused.status_code == 422


async def test_an_issued_prescription_cannot_be_changed(
    clinic: RecordsClinic, runtime: Runtime
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    issued = (await clinic.prescribe(doctor, visit.id)).json()
    url = f"/api/prescriptions/{issued['id']}"
    for method in ("PUT", "PATCH", "DELETE"):
        response = await clinic.client.request(
            method, url, json=PRESCRIPTION, headers=doctor.headers
        )
        assert response.status_code == 405
    # Not even code that reaches the table can change or remove it.
    with pytest.raises(ImmutableRecord):
        await tamper(runtime, Prescription, content="{}")
    with pytest.raises(ImmutableRecord):
        await tamper(runtime, Prescription, delete=True)
    assert (await clinic.client.get(url, headers=doctor.headers)).json() == issued


async def test_a_correction_supersedes_once(clinic: RecordsClinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    first = (await clinic.prescribe(doctor, visit.id)).json()
    fixed = await clinic.prescribe(
        doctor, visit.id, supersedes_id=first["id"], medications=[{**MEDICATION, "dosage": "2"}]
    )
    assert fixed.status_code == 201
    assert fixed.json()["supersedes_id"] == first["id"]
    old = (
        await clinic.client.get(f"/api/prescriptions/{first['id']}", headers=patient.headers)
    ).json()
    assert old["superseded_by_id"] == fixed.json()["id"]
    assert old["medications"] == first["medications"]  # the original text stands

    again = await clinic.prescribe(doctor, visit.id, supersedes_id=first["id"])
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_superseded"
    other_visit = await clinic.visit(patient, doctor)
    elsewhere = await clinic.prescribe(doctor, other_visit.id, supersedes_id=fixed.json()["id"])
    assert elsewhere.status_code == 422

    page = await clinic.client.get(f"/verify/{first['verification_code']}")
    assert 'data-genuine="true"' in page.text
    assert 'data-testid="verify-superseded"' in page.text


async def test_the_pdf_holds_the_medicines_and_a_qr_code_of_the_verification_page(
    clinic: RecordsClinic,
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    issued = (await clinic.prescribe(doctor, visit.id)).json()

    response = await clinic.client.get(
        f"/api/prescriptions/{issued['id']}.pdf?lang=en", headers=patient.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    reader, text = pdf_text(response.content)
    for expected in (
        "Amoxicillin", "500 mg", "Paracetamol", "21 capsules", "Avoid alcohol",
        "Rash or difficulty breathing", issued["verification_code"], doctor.user.name,
        patient.user.name, "Prescription", issued["issued_at"][:4],
    ):  # fmt: skip
        assert expected in text, expected

    [image] = reader.pages[0].images
    [barcode] = zxingcpp.read_barcodes(image.image)
    assert barcode.format == zxingcpp.BarcodeFormat.QRCode
    assert barcode.text == issued["verify_url"]
    assert barcode.text.endswith(f"/verify/{issued['verification_code']}")


async def test_the_pdf_in_swahili(clinic: RecordsClinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    issued = (await clinic.prescribe(doctor, visit.id)).json()
    english = pdf_text(
        (
            await clinic.client.get(
                f"/api/prescriptions/{issued['id']}.pdf?lang=en", headers=patient.headers
            )
        ).content
    )[1]
    swahili = pdf_text(
        (
            await clinic.client.get(
                f"/api/prescriptions/{issued['id']}.pdf?lang=sw", headers=patient.headers
            )
        ).content
    )[1]
    assert "Amoxicillin" in swahili
    assert "Dawa" in swahili
    assert "Dawa" not in english
    # The paper is the patient's: without `lang` it is in their language (English here),
    # whatever the page's.
    by_default = await clinic.client.get(
        f"/api/prescriptions/{issued['id']}.pdf",
        headers={**patient.headers, "Accept-Language": "sw"},
    )
    assert "Dawa" not in pdf_text(by_default.content)[1]


async def test_the_verification_page_says_only_genuine_date_and_doctor(
    clinic: RecordsClinic,
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    issued = (await clinic.prescribe(doctor, visit.id)).json()

    page = await clinic.client.get(f"/verify/{issued['verification_code']}")
    assert page.status_code == 200
    assert 'data-genuine="true"' in page.text
    assert doctor.user.name in page.text
    for private in (patient.user.name, "Amoxicillin", "Avoid alcohol"):
        assert private not in page.text
    typed = issued["verification_code"].replace("-", "").lower()
    assert 'data-genuine="true"' in (await clinic.client.get(f"/verify/{typed}")).text


@pytest.mark.parametrize("code", ["AAAA-BBBB-CCCC", "forged", "<script>x", "0"])
async def test_a_forged_code_is_not_genuine(clinic: RecordsClinic, code: str) -> None:
    page = await clinic.client.get(f"/verify/{code}")
    assert page.status_code == 200
    assert 'data-genuine="false"' in page.text
    assert "<script>x" not in page.text


async def test_racing_corrections_of_one_prescription_leave_one(clinic: RecordsClinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    first = (await clinic.prescribe(doctor, visit.id)).json()
    answers = await asyncio.gather(
        *[clinic.prescribe(doctor, visit.id, supersedes_id=first["id"]) for _ in range(6)]
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5
