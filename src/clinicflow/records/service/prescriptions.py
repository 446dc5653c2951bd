"""Prescriptions: issued by the consultation's doctor once it has ended and never changed; a
correction is a new prescription that supersedes it (once). Each carries a verification
code anyone holding the paper can check.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic import service as clinic
from clinicflow.consultations import schemas as consultation_schemas
from clinicflow.core import audit, clock, moments
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.records import access, schemas
from clinicflow.records.models import Prescription
from clinicflow.records.service import safety
from clinicflow.records.service.clinical_lists import active_lists
from clinicflow.records.service.read_audit import audit_read

# Unambiguous when read aloud or typed from paper: no 0/O, 1/I/L or U.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
CODE_GROUPS = 3
CODE_GROUP_LENGTH = 4


def new_verification_code() -> str:
    """About 59 random bits in three groups of four: not guessable, easy to type."""
    groups = (
        "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH))
        for _ in range(CODE_GROUPS)
    )
    return "-".join(groups)


def normalize_code(code: str) -> str:
    """A code as typed from paper: any case, with or without the dashes."""
    compact = "".join(ch for ch in code.upper() if ch.isalnum())[: CODE_GROUPS * CODE_GROUP_LENGTH]
    return "-".join(
        compact[i : i + CODE_GROUP_LENGTH] for i in range(0, len(compact), CODE_GROUP_LENGTH)
    )


def verify_url(public_url: str, code: str) -> str:
    return f"{public_url.rstrip('/')}/verify/{code}"


async def issue_prescription(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    prescription: schemas.PrescriptionIn,
) -> Prescription:
    """Issue a prescription once the visit has ended, if it is safe: a medicine that meets an
    active allergy or duplicates an active medication is refused (409 `allergy_conflict` or
    `duplicate_therapy`) unless the doctor gives an `override_reason`, which is kept with it."""
    consultation = await access.consultation_to_write(session, actor, consultation_id)
    if prescription.supersedes_id is not None:
        await _check_supersedable(session, consultation, prescription.supersedes_id)
    found = await _conflicts(session, consultation.patient_id, prescription.medications)
    if found and prescription.override_reason is None:
        raise _refusal(found)
    content = prescription.model_dump(mode="json", exclude={"supersedes_id"})
    content["overridden"] = [c.model_dump(mode="json") for c in found]
    if not found:
        content["override_reason"] = None
    row = Prescription(
        id=uuid.uuid4(),
        consultation_id=consultation.id,
        patient_id=consultation.patient_id,
        doctor_id=consultation.doctor_id,
        issued_at=clock.now(),
        verification_code=new_verification_code(),
        content=json.dumps(content),
        supersedes_id=prescription.supersedes_id,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        # Two corrections of one prescription at once: the unique index lets one win.
        raise _already_superseded() from None
    await audit.record(
        session,
        action="records.prescription_issued",
        resource_type="prescription",
        resource_id=row.id,
        actor=actor,
        details={
            "consultation_id": str(consultation.id),
            "medications": len(prescription.medications),
            "supersedes_id": str(row.supersedes_id) if row.supersedes_id else None,
            "overridden": sorted({c.code for c in found}),
        },
    )
    return row


async def _conflicts(
    session: AsyncSession,
    patient_id: uuid.UUID,
    medications: Sequence[schemas.MedicationIn | schemas.CheckedMedication],
) -> list[schemas.Conflict]:
    allergies, _conditions, current = await active_lists(session, patient_id)
    return safety.conflicts(
        [m.name for m in medications],
        allergies=[a.substance for a in allergies],
        medications=[m.name for m in current],
    )


def _refusal(found: Sequence[schemas.Conflict]) -> AppError:
    """The first conflict names the refusal; `details` names every one."""
    allergic = [c for c in found if c.code == "allergy_conflict"]
    first = (allergic or list(found))[0]
    return AppError(
        ErrorCode(first.code),
        first.message,
        {
            "medicine": first.medicine,
            "allergy": first.allergy,
            "medication": first.medication,
            "class": first.class_name,
            "conflicts": [c.model_dump(mode="json") for c in found],
        },
    )


async def check_prescription(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    medications: Sequence[schemas.CheckedMedication],
) -> schemas.PrescriptionCheck:
    """What issuing these medicines would meet, for the form to warn before Issue: the
    same rule and the same caller as `issue_prescription`, nothing stored."""
    consultation = await access.consultation_to_write(session, actor, consultation_id)
    return schemas.PrescriptionCheck(
        conflicts=await _conflicts(session, consultation.patient_id, medications)
    )


def _already_superseded() -> AppError:
    return AppError(
        ErrorCode.already_superseded,
        _("This prescription has already been replaced by a correction."),
        {"field": "supersedes_id"},
    )


async def _check_supersedable(
    session: AsyncSession,
    consultation: consultation_schemas.ConsultationView,
    supersedes_id: uuid.UUID,
) -> None:
    """A correction replaces a prescription of the same consultation, once."""
    old = await session.get(Prescription, supersedes_id)
    if old is None or old.consultation_id != consultation.id:
        raise AppError(
            ErrorCode.validation_error,
            _("Choose a prescription of this consultation to correct."),
            {"field": "supersedes_id"},
        )
    if await _successors(session, [old.id]):
        raise _already_superseded()


async def _successors(
    session: AsyncSession, prescription_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """For each of these prescriptions that has been corrected, the correction's id."""
    wanted = list(set(prescription_ids))
    if not wanted:
        return {}
    rows = await session.execute(
        select(Prescription.supersedes_id, Prescription.id).where(
            Prescription.supersedes_id.in_(wanted)
        )
    )
    return {old: new for old, new in rows if old is not None}


async def describe_prescriptions(
    session: AsyncSession, rows: Sequence[Prescription], *, public_url: str, staff: bool = False
) -> list[schemas.PrescriptionOut]:
    """The answer shape, with names and corrections looked up in one query each. Why a
    warning was overridden is told to staff only (`access.sees_overrides`)."""
    names = await identity.names(
        session, {r.patient_id for r in rows} | {r.doctor_id for r in rows}
    )
    successors = await _successors(session, [r.id for r in rows])
    described = []
    for row in rows:
        content = json.loads(row.content)
        if not staff:
            content.pop("override_reason", None)
            content.pop("overridden", None)
        described.append(
            schemas.PrescriptionOut(
                id=row.id,
                consultation_id=row.consultation_id,
                patient_id=row.patient_id,
                patient_name=names.get(row.patient_id, ""),
                doctor_id=row.doctor_id,
                doctor_name=names.get(row.doctor_id, ""),
                issued_at=row.issued_at,
                verification_code=row.verification_code,
                verify_url=verify_url(public_url, row.verification_code),
                supersedes_id=row.supersedes_id,
                superseded_by_id=successors.get(row.id),
                **content,
            )
        )
    return described


async def read_prescription(
    *,
    session: AsyncSession,
    actor: Actor,
    prescription_id: uuid.UUID,
) -> Prescription:
    """The prescription for whoever may read the patient's record (staff reads audited)."""
    row = await session.get(Prescription, prescription_id)
    if row is None:
        raise not_found()
    await access.require_clinical_reader(session, actor, row.patient_id)
    await audit_read(session, actor, "records.prescription_read", "prescription", row.id)
    return row


async def verify(*, session: AsyncSession, code: str) -> schemas.Verification:
    """What anyone holding the paper may learn: whether it is genuine, its date and doctor,
    and whether it has been replaced. Nothing about the patient or the medicines."""
    row = await session.scalar(
        select(Prescription).where(Prescription.verification_code == normalize_code(code))
    )
    if row is None:
        return schemas.Verification(genuine=False)
    names = await identity.names(session, [row.doctor_id])
    zone = (await clinic.current(session=session)).zone
    return schemas.Verification(
        genuine=True,
        # The day on the paper: the clinic's, not UTC's (21:05 UTC is tomorrow in Nairobi).
        issued_on=moments.local(row.issued_at, zone).date(),
        doctor_name=names.get(row.doctor_id, ""),
        superseded=bool(await _successors(session, [row.id])),
    )
