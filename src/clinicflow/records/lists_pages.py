"""The chart's clinical lists as forms: add an allergy, a condition or a medication, resolve
or stop a line, remove one entered in error. Each form goes back to the chart; a refusal
shows on it. Every rule is the service's (`records.service.clinical_lists`).

Also the summary other domains' pages show (`AllergyLines`): the queue and the chat sit
below records and never import it, so the wiring hands them `ChartSummaries`.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError
from clinicflow.deps import Clinic, CsrfProtected, PageViewer, Session
from clinicflow.records import access, schemas
from clinicflow.records import service as records
from clinicflow.records.pages import chart_refusal, invalid_form
from clinicflow.routing import TransactionalRoute
from clinicflow.web.clinical import AllergyLine

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)
Kind = schemas.Kind
ENTRY: dict[Kind, type[BaseModel]] = {
    Kind.allergy: schemas.AllergyIn,
    Kind.condition: schemas.ConditionIn,
    Kind.medication: schemas.MedicationEntryIn,
}
PATCH: dict[Kind, type[BaseModel]] = {
    Kind.allergy: schemas.AllergyPatch,
    Kind.condition: schemas.ConditionPatch,
    Kind.medication: schemas.MedicationEntryPatch,
}
FIELDS: dict[Kind, tuple[str, ...]] = {
    Kind.allergy: ("substance", "reaction", "severity"),
    Kind.condition: ("name", "icd10", "onset"),
    Kind.medication: ("name", "form", "strength", "dose"),
}


def _back(patient_id: uuid.UUID) -> Response:
    return RedirectResponse(f"/patients/{patient_id}/chart#clinical-lists", status_code=303)


@router.post("/patients/{patient_id}/lists/{kind}", dependencies=[CsrfProtected])
async def add_line(
    request: Request,
    patient_id: uuid.UUID,
    kind: Kind,
    session: Session,
    clinic: Clinic,
    user: PageViewer,
) -> Response:
    form = await request.form()
    values: dict[str, Any] = {f: str(form.get(f, "")) for f in FIELDS[kind]}
    if kind is Kind.condition:
        values["onset"] = values["onset"] or None
    try:
        entry = ENTRY[kind].model_validate(values)
        await records.record_item(
            session=session, actor=user, patient_id=patient_id, kind=kind, entry=entry
        )
    except ValidationError as exc:
        return await chart_refusal(
            request, session, user, patient_id, clinic.public_url, invalid_form(exc)
        )
    except AppError as exc:
        return await chart_refusal(request, session, user, patient_id, clinic.public_url, exc)
    return _back(patient_id)


@router.post("/lists/{kind}/{item_id}/{change}", dependencies=[CsrfProtected])
async def change_line(
    request: Request,
    kind: Kind,
    item_id: uuid.UUID,
    change: str,
    session: Session,
    clinic: Clinic,
    user: PageViewer,
) -> Response:
    """`resolved`, `stopped` or `active` set the status; `remove` marks it entered in error.
    The form names its chart's patient, only to draw the chart again with a refusal."""
    try:
        patient_id = uuid.UUID(str((await request.form()).get("patient_id", "")))
    except ValueError:
        patient_id = uuid.UUID(int=0)
    try:
        if change == "remove":
            line = await records.remove_item(
                session=session, actor=user, item_id=item_id, kind=kind
            )
        else:
            line = await records.change_item(
                session=session,
                actor=user,
                item_id=item_id,
                kind=kind,
                change=PATCH[kind].model_validate({"status": change}),
            )
    except ValidationError as exc:
        return await chart_refusal(
            request, session, user, patient_id, clinic.public_url, invalid_form(exc)
        )
    except AppError as exc:
        return await chart_refusal(request, session, user, patient_id, clinic.public_url, exc)
    return _back(line.patient_id)


class ChartSummaries:
    """The allergy line of a patient for the doctor's queue card and chat panel: only for
    a reader of the whole record (nothing for anyone else), and not audited, as a banner
    on a page the doctor already has open; the chart that shows the same line is."""

    async def allergy_line(
        self, *, session: AsyncSession, actor: Actor, patient_id: uuid.UUID
    ) -> AllergyLine | None:
        try:
            await access.require_clinical_reader(session, actor, patient_id)
        except AppError:
            return None
        allergies, _conditions, _medications = await records.active_lists(session, patient_id)
        summary = schemas.ClinicalSummary(
            patient_id=patient_id,
            allergies=allergies,
            conditions=[],
            medications=[],
            last_visit=None,
        )
        return AllergyLine(
            text=summary.allergy_line, severe=summary.severe_allergy, known=bool(allergies)
        )
