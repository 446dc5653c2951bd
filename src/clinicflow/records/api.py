"""HTTP routes of records: thin translations between JSON (or PDF) and the service.

Routes on one record answer an anonymous caller with the same 404 as a missing record.
Reads by staff leave audit rows, so those GETs run as write transactions (`@writes`).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from clinicflow import i18n
from clinicflow.clinic.schemas import ClinicProfile
from clinicflow.deps import Clinic, Reader, Session
from clinicflow.identity import service as identity
from clinicflow.records import access, fhir, pdf, schemas
from clinicflow.records import service as records
from clinicflow.records.models import Prescription
from clinicflow.routing import TransactionalRoute, writes

router = APIRouter(prefix="/api", route_class=TransactionalRoute, tags=["records"])

Language = Annotated[str | None, Query(alias="lang", pattern="^(en|sw)$")]
PDF_HEADERS = {"Cache-Control": "private, no-store"}


def _pdf(data: bytes, filename: str) -> Response:
    return Response(
        data,
        media_type="application/pdf",
        headers={**PDF_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/consultations/{consultation_id}/visit-note")
@writes
async def read_visit_note(
    consultation_id: uuid.UUID, session: Session, user: Reader
) -> schemas.VisitNoteOut:
    """The latest version, marked `amended` if it changed; staff also get `history`."""
    return await records.read_visit_note(
        session=session, actor=user, consultation_id=consultation_id
    )


@router.put("/consultations/{consultation_id}/visit-note")
async def write_visit_note(
    consultation_id: uuid.UUID,
    body: schemas.VisitNoteIn,
    session: Session,
    user: Reader,
) -> schemas.VisitNoteOut:
    """Write or amend (a new version; earlier ones are kept) once the consultation ended."""
    return await records.write_visit_note(
        session=session, actor=user, consultation_id=consultation_id, note=body
    )


@router.post("/consultations/{consultation_id}/prescriptions", status_code=status.HTTP_201_CREATED)
async def issue_prescription(
    consultation_id: uuid.UUID,
    body: schemas.PrescriptionIn,
    session: Session,
    clinic: Clinic,
    user: Reader,
) -> schemas.PrescriptionOut:
    """Issued once, never changed: send `supersedes_id` to correct an earlier one."""
    row = await records.issue_prescription(
        session=session,
        actor=user,
        consultation_id=consultation_id,
        prescription=body,
    )
    return await _described(session, clinic, row, staff=access.sees_overrides(user))


@router.post("/consultations/{consultation_id}/prescriptions/check")
async def check_prescription(
    consultation_id: uuid.UUID,
    body: schemas.PrescriptionCheckIn,
    session: Session,
    user: Reader,
) -> schemas.PrescriptionCheck:
    """What issuing these medicines would meet (allergies, duplicate therapy); stores nothing."""
    return await records.check_prescription(
        session=session, actor=user, consultation_id=consultation_id, medications=body.medications
    )


async def _described(
    session: Session, clinic: ClinicProfile, row: Prescription, *, staff: bool
) -> schemas.PrescriptionOut:
    [described] = await records.describe_prescriptions(
        session, [row], public_url=clinic.public_url, staff=staff
    )
    return described


async def _prescription(
    session: Session, clinic: ClinicProfile, user: Reader, ident: uuid.UUID, *, staff: bool
) -> schemas.PrescriptionOut:
    row = await records.read_prescription(session=session, actor=user, prescription_id=ident)
    return await _described(session, clinic, row, staff=staff)


def _letterhead(clinic: ClinicProfile) -> pdf.Letterhead:
    return pdf.Letterhead(
        name=clinic.name,
        address=clinic.address,
        phone=clinic.phone,
        timezone=clinic.timezone,
        phone_region=clinic.phone_region,
    )


async def _language_of(session: Session, patient_id: uuid.UUID) -> str:
    """A paper is the patient's: in their language unless `lang` asks for another."""
    found = await identity.users(session, [patient_id])
    if found and found[0].patient is not None:
        return str(found[0].patient.preferred_language.value)
    return i18n.current_language()


# Declared before `/prescriptions/{id}`, which would otherwise take "….pdf" as its id.
@router.get("/prescriptions/{prescription_id}.pdf", response_class=Response)
@writes
async def prescription_pdf(
    prescription_id: uuid.UUID,
    session: Session,
    clinic: Clinic,
    user: Reader,
    lang: Language = None,
) -> Response:
    """The printable prescription, in `lang` (or the page's language): the patient's copy,
    so never an override reason, whoever prints it."""
    described = await _prescription(session, clinic, user, prescription_id, staff=False)
    profile = await identity.patient_profile(session, described.patient_id)
    doctors = await identity.users(session, [described.doctor_id])
    profile_of_doctor = doctors[0].doctor if doctors else None
    data = await asyncio.to_thread(
        pdf.prescription_pdf,
        described,
        letterhead=_letterhead(clinic),
        language=lang or await _language_of(session, described.patient_id),
        patient=pdf.PatientLines(age=profile.age_label, sex=profile.sex) if profile else None,
        registration_number=(profile_of_doctor.registration_number or "")
        if profile_of_doctor
        else "",
    )
    return _pdf(data, f"prescription-{described.verification_code}.pdf")


@router.get("/prescriptions/{prescription_id}")
@writes
async def read_prescription(
    prescription_id: uuid.UUID,
    session: Session,
    clinic: Clinic,
    user: Reader,
) -> schemas.PrescriptionOut:
    return await _prescription(
        session, clinic, user, prescription_id, staff=access.sees_overrides(user)
    )


@router.get("/patients/{patient_id}/history")
@writes
async def patient_history(
    patient_id: uuid.UUID,
    session: Session,
    clinic: Clinic,
    user: Reader,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    doctor_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = records.PAGE,
) -> schemas.HistoryPage:
    """Appointments and consultations, newest first, 20 at a time; `from`/`to` are days
    (inclusive), `q` searches the patient's notes, prescriptions and messages."""
    return await records.history(
        session=session,
        actor=user,
        patient_id=patient_id,
        public_url=clinic.public_url,
        cursor=cursor,
        start=start,
        end=end,
        doctor_id=doctor_id,
        query=q,
        limit=limit,
    )


@router.get("/patients/{patient_id}/export.pdf", response_class=Response)
@writes
async def export_pdf(
    patient_id: uuid.UUID,
    session: Session,
    clinic: Clinic,
    user: Reader,
    lang: Language = None,
) -> Response:
    """The whole record as one PDF, for its patient."""
    record = await records.export(
        session=session,
        actor=user,
        patient_id=patient_id,
        public_url=clinic.public_url,
        form="pdf",
    )
    data = await asyncio.to_thread(
        pdf.record_pdf,
        record,
        letterhead=_letterhead(clinic),
        language=lang or await _language_of(session, patient_id),
    )
    return _pdf(data, "medical-record.pdf")


@router.get("/patients/{patient_id}/export.fhir.json", response_class=Response)
@writes
async def export_fhir(
    patient_id: uuid.UUID, session: Session, clinic: Clinic, user: Reader
) -> Response:
    """The whole record as a FHIR R4 `collection` Bundle, for its patient."""
    record = await records.export(
        session=session,
        actor=user,
        patient_id=patient_id,
        public_url=clinic.public_url,
        form="fhir",
    )
    return Response(
        fhir.bundle_json(record),
        media_type="application/fhir+json",
        headers={
            **PDF_HEADERS,
            "Content-Disposition": 'attachment; filename="medical-record.fhir.json"',
        },
    )
