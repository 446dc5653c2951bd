"""HTTP routes of the patient's clinical lists and of the formulary: thin translations
between JSON and the service (`records.service.clinical_lists`).

`GET|POST /api/patients/{id}/allergies|conditions|medications`, and for one line
`PATCH|DELETE /api/allergies|conditions|medications/{id}` and `GET …/{id}/versions`.
Reads by staff leave audit rows, so those GETs run as write transactions (`@writes`).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel

from clinicflow.deps import CurrentUser, Reader, Session
from clinicflow.records import formulary, schemas
from clinicflow.records import service as records
from clinicflow.routing import TransactionalRoute, writes

router = APIRouter(prefix="/api", route_class=TransactionalRoute, tags=["records"])
Kind = schemas.Kind


async def _list(
    session: Session, user: Reader, patient_id: uuid.UUID, kind: Kind
) -> list[schemas.ItemOut]:
    return await records.list_items(session=session, actor=user, patient_id=patient_id, kind=kind)


async def _record(
    session: Session, user: Reader, patient_id: uuid.UUID, kind: Kind, body: BaseModel
) -> schemas.ItemOut:
    return await records.record_item(
        session=session, actor=user, patient_id=patient_id, kind=kind, entry=body
    )


@router.get("/patients/{patient_id}/allergies")
@writes
async def allergies(
    patient_id: uuid.UUID, session: Session, user: Reader
) -> list[schemas.AllergyOut]:
    """The patient's allergies (removed ones left out), oldest first."""
    return await _list(session, user, patient_id, Kind.allergy)  # type: ignore[return-value]


@router.post("/patients/{patient_id}/allergies", status_code=status.HTTP_201_CREATED)
async def record_allergy(
    patient_id: uuid.UUID, body: schemas.AllergyIn, session: Session, user: Reader
) -> schemas.AllergyOut:
    return await _record(session, user, patient_id, Kind.allergy, body)  # type: ignore[return-value]


@router.get("/patients/{patient_id}/conditions")
@writes
async def conditions(
    patient_id: uuid.UUID, session: Session, user: Reader
) -> list[schemas.ConditionOut]:
    """The patient's problem list (removed lines left out), oldest first."""
    return await _list(session, user, patient_id, Kind.condition)  # type: ignore[return-value]


@router.post("/patients/{patient_id}/conditions", status_code=status.HTTP_201_CREATED)
async def record_condition(
    patient_id: uuid.UUID, body: schemas.ConditionIn, session: Session, user: Reader
) -> schemas.ConditionOut:
    return await _record(session, user, patient_id, Kind.condition, body)  # type: ignore[return-value]


@router.get("/patients/{patient_id}/medications")
@writes
async def medications(
    patient_id: uuid.UUID, session: Session, user: Reader
) -> list[schemas.MedicationEntryOut]:
    """The patient's current and stopped medications (removed lines left out)."""
    return await _list(session, user, patient_id, Kind.medication)  # type: ignore[return-value]


@router.post("/patients/{patient_id}/medications", status_code=status.HTTP_201_CREATED)
async def record_medication(
    patient_id: uuid.UUID, body: schemas.MedicationEntryIn, session: Session, user: Reader
) -> schemas.MedicationEntryOut:
    return await _record(session, user, patient_id, Kind.medication, body)  # type: ignore[return-value]


async def _change(
    session: Session, user: Reader, item_id: uuid.UUID, kind: Kind, body: BaseModel
) -> schemas.ItemOut:
    return await records.change_item(
        session=session, actor=user, item_id=item_id, kind=kind, change=body
    )


@router.patch("/allergies/{item_id}")
async def change_allergy(
    item_id: uuid.UUID, body: schemas.AllergyPatch, session: Session, user: Reader
) -> schemas.AllergyOut:
    """A new version with the fields sent (none stored when nothing changed)."""
    return await _change(session, user, item_id, Kind.allergy, body)  # type: ignore[return-value]


@router.patch("/conditions/{item_id}")
async def change_condition(
    item_id: uuid.UUID, body: schemas.ConditionPatch, session: Session, user: Reader
) -> schemas.ConditionOut:
    return await _change(session, user, item_id, Kind.condition, body)  # type: ignore[return-value]


@router.patch("/medications/{item_id}")
async def change_medication(
    item_id: uuid.UUID, body: schemas.MedicationEntryPatch, session: Session, user: Reader
) -> schemas.MedicationEntryOut:
    """Most often the status: `stopped` when the patient no longer takes it."""
    return await _change(session, user, item_id, Kind.medication, body)  # type: ignore[return-value]


async def _remove(session: Session, user: Reader, item_id: uuid.UUID, kind: Kind) -> Response:
    await records.remove_item(session=session, actor=user, item_id=item_id, kind=kind)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/allergies/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_allergy(item_id: uuid.UUID, session: Session, user: Reader) -> Response:
    """Entered in error: off the list, its versions kept."""
    return await _remove(session, user, item_id, Kind.allergy)


@router.delete("/conditions/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_condition(item_id: uuid.UUID, session: Session, user: Reader) -> Response:
    return await _remove(session, user, item_id, Kind.condition)


@router.delete("/medications/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_medication(item_id: uuid.UUID, session: Session, user: Reader) -> Response:
    return await _remove(session, user, item_id, Kind.medication)


async def _versions(
    session: Session, user: Reader, item_id: uuid.UUID, kind: Kind
) -> schemas.ItemOut:
    return await records.item_versions(session=session, actor=user, item_id=item_id, kind=kind)


@router.get("/allergies/{item_id}/versions")
@writes
async def allergy_versions(item_id: uuid.UUID, session: Session, user: Reader) -> schemas.ItemOut:
    """The line with every version it had, oldest first (a removed line too)."""
    return await _versions(session, user, item_id, Kind.allergy)


@router.get("/conditions/{item_id}/versions")
@writes
async def condition_versions(item_id: uuid.UUID, session: Session, user: Reader) -> schemas.ItemOut:
    return await _versions(session, user, item_id, Kind.condition)


@router.get("/medications/{item_id}/versions")
@writes
async def medication_versions(
    item_id: uuid.UUID, session: Session, user: Reader
) -> schemas.ItemOut:
    return await _versions(session, user, item_id, Kind.medication)


@router.get("/formulary")
async def search_formulary(
    user: CurrentUser, q: Annotated[str, Query(max_length=100)] = ""
) -> list[schemas.FormularyEntry]:
    """Medicines whose name (or another name) starts with or contains `q`, 20 at most.

    The list is no one's record, so a caller who is not signed in is told to sign in (401),
    not the record's not-found."""
    return [
        schemas.FormularyEntry(
            name=m.name,
            form=m.form,
            strengths=list(m.strengths),
            atc=m.atc,
            classes=list(m.classes),
        )
        for m in formulary.search(q)
    ]
