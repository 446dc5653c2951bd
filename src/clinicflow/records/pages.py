"""Record pages: the patient's "My records", the doctor's patient chart with the visit-note
and prescription forms (once a consultation has ended; the prescription form prefilled from
a draft when there is one), and the public verification page.

Every rule is the service's and the access module's; these routes turn forms into the
service's shapes and render what it answers.

The drafts come from above: the assistant sits higher in the layers and records never
imports it. These pages declare what they need of drafts (`DraftSource`) and the wiring
layer hands them one (`use_drafts`, called by `app.py` with the assistant's `ChartDrafts`),
as identity is handed its `CodeSender` (docs/architecture.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import date
from typing import Annotated, Any, Protocol
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from clinicflow.consultations import service as consultations
from clinicflow.core import moments
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.core.labels import choices
from clinicflow.deps import Clinic, CsrfProtected, PageViewer, Session
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.records import access, schemas
from clinicflow.records import service as records
from clinicflow.routing import TransactionalRoute, writes
from clinicflow.web.templating import refusal_page, render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

# Rows of the prescription form; a prescription may list more through the API.
FORM_MEDICATIONS = 3
MEDICATION_FIELDS = (
    "name",
    "strength",
    "dosage",
    "route",
    "frequency",
    "duration",
    "quantity",
    "instructions",
)
ADVICE_FIELDS = (
    "lifestyle_advice",
    "dietary_instructions",
    "warning_signs",
    "emergency_instructions",
)


class DraftSource(Protocol):
    """What the chart needs of the drafts that prefill its prescription forms."""

    async def prefills(
        self, *, session: AsyncSession, actor: Actor, consultation_ids: Collection[uuid.UUID]
    ) -> Mapping[uuid.UUID, Mapping[str, Any]]:
        """The actor's own drafts among these consultations, as the prescription form's
        values (`medications`, a list of rows by field, and the advice fields)."""
        ...

    async def used(
        self, *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
    ) -> None:
        """The prescription a draft prefilled was issued: the draft has done its work."""
        ...


def use_drafts(app: FastAPI, source: DraftSource) -> None:
    """Where the chart's prescription forms get their drafts from (set once, by the wiring)."""
    app.state.draft_source = source


def _draft_source(request: Request) -> DraftSource:
    source: DraftSource = request.app.state.draft_source
    return source


async def _drafts(request: Request) -> DraftSource:
    # A coroutine, so FastAPI does not send it to the thread pool (deps.py says why).
    return _draft_source(request)


Drafts = Annotated[DraftSource, Depends(_drafts)]


def _date_or_none(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


async def _timeline(
    session: AsyncSession,
    user: Actor,
    patient_id: uuid.UUID,
    public_url: str,
    params: Mapping[str, str | None],
) -> dict[str, Any]:
    doctor = params.get("doctor_id") or ""
    try:
        doctor_id = uuid.UUID(doctor) if doctor else None
    except ValueError:
        doctor_id = None
    page = await records.history(
        session=session,
        actor=user,
        patient_id=patient_id,
        public_url=public_url,
        cursor=params.get("cursor") or None,
        start=_date_or_none(params.get("from")),
        end=_date_or_none(params.get("to")),
        doctor_id=doctor_id,
        query=params.get("q") or None,
    )
    doctors = {item.doctor_id: item.doctor_name for item in page.items}
    filters = {key: params.get(key) or "" for key in ("from", "to", "doctor_id", "q")}
    more = {key: value for key, value in filters.items() if value}
    return {
        "items": page.items,
        "next_cursor": page.next_cursor,
        "filters": filters,
        "more_query": urlencode({**more, "cursor": page.next_cursor or ""}),
        "doctors": sorted(doctors.items(), key=lambda pair: pair[1]),
    }


@router.get("/records", response_class=HTMLResponse)
async def my_records(
    request: Request, session: Session, clinic: Clinic, user: PageViewer
) -> Response:
    """The patient's own record: timeline, filters, search, downloads."""
    access.require_own_record_page(user)
    context = await _timeline(session, user, user.id, clinic.public_url, request.query_params)
    return render(request, "records/mine.html", {**context, "patient_id": user.id})


async def _chart_context(
    session: AsyncSession,
    user: Actor,
    patient_id: uuid.UUID,
    public_url: str,
    params: Mapping[str, str | None],
    drafts: DraftSource,
) -> dict[str, Any]:
    context = await _timeline(session, user, patient_id, public_url, params)
    names = await identity.names(session, [patient_id])
    full = await access.record_view(session, user, patient_id) is access.View.full
    writable = {
        item.id
        for item in context["items"]
        if item.kind == "consultation" and access.can_write_visit(user, item)
    }
    return {
        **context,
        "patient_id": patient_id,
        "patient_name": names.get(patient_id, ""),
        "writable": writable,
        # Drafts prefill the prescription forms of these visits.
        "drafts": await drafts.prefills(session=session, actor=user, consultation_ids=writable),
        "form_medications": FORM_MEDICATIONS,
        "medication_fields": MEDICATION_FIELDS,
        "advice_fields": ADVICE_FIELDS,
        # The header and the lists, for readers of the whole record (not receptionists).
        "summary": await records.clinical_summary(
            session=session, actor=user, patient_id=patient_id
        )
        if full
        else None,
        # Age and sex for the header: identity's profile, for a reader of the record.
        "profile": await identity.patient_profile(session, patient_id) if full else None,
        "keeps_lists": full and access.keeps_lists(user),
        "severities": choices(schemas.Severity),
        "last_prescription": _last_prescription(context["items"]),
    }


def _last_prescription(items: Sequence[schemas.HistoryItem]) -> dict[str, Any] | None:
    """The newest prescription on the page still in force, as the form's values, for
    "Repeat last prescription"."""
    for item in items:
        for p in reversed(item.prescriptions):
            if p.superseded_by_id is None:
                return {
                    "medications": [m.model_dump() for m in p.medications],
                    **{field: getattr(p, field) for field in ADVICE_FIELDS},
                }
    return None


@router.get("/patients/{patient_id}/chart", response_class=HTMLResponse)
@writes
async def chart(
    request: Request,
    patient_id: uuid.UUID,
    session: Session,
    clinic: Clinic,
    user: PageViewer,
    drafts: Drafts,
) -> Response:
    """The doctor's chart of one patient: past visits, notes, prescriptions, and the forms
    for the doctor's own finished consultations. Audited like the history it shows."""
    context = await _chart_context(
        session, user, patient_id, clinic.public_url, request.query_params, drafts
    )
    return render(request, "records/chart.html", context)


async def chart_refusal(
    request: Request,
    session: AsyncSession,
    user: Actor,
    patient_id: uuid.UUID,
    public_url: str,
    exc: AppError,
) -> Response:
    return await refusal_page(
        request,
        session,
        exc,
        "records/chart.html",
        lambda: _chart_context(session, user, patient_id, public_url, {}, _draft_source(request)),
    )


def invalid_form(exc: ValidationError) -> AppError:
    fields = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
    return AppError(
        ErrorCode.validation_error,
        _("Check the form: some fields are missing or too long."),
        {"fields": fields},
    )


async def _consultation_patient(
    session: AsyncSession, user: Actor, consultation_id: uuid.UUID
) -> uuid.UUID:
    consultation = await consultations.consultation_for(
        session=session, actor=user, consultation_id=consultation_id
    )
    return consultation.patient_id


async def submit_chart_form(
    request: Request,
    session: AsyncSession,
    public_url: str,
    user: Actor,
    consultation_id: uuid.UUID,
    store: Callable[[FormData], Awaitable[object]],
) -> Response:
    """Store what a chart form sent and go back to the visit; a refusal (or a form the
    schema refuses) shows on the chart. The assistant's Discard of a draft is one too."""
    patient_id = await _consultation_patient(session, user, consultation_id)
    try:
        await store(await request.form())
    except ValidationError as exc:
        return await chart_refusal(
            request, session, user, patient_id, public_url, invalid_form(exc)
        )
    except AppError as exc:
        return await chart_refusal(request, session, user, patient_id, public_url, exc)
    return RedirectResponse(
        f"/patients/{patient_id}/chart#visit-{consultation_id}", status_code=303
    )


@router.post("/consultations/{consultation_id}/visit-note", dependencies=[CsrfProtected])
async def write_note(
    request: Request,
    consultation_id: uuid.UUID,
    session: Session,
    clinic: Clinic,
    user: PageViewer,
) -> Response:
    async def store(form: FormData) -> object:
        note = schemas.VisitNoteIn.model_validate(
            {
                "body_markdown": form.get("body_markdown", ""),
                "diagnosis": form.get("diagnosis", ""),
                "follow_up_on": form.get("follow_up_on") or None,
            }
        )
        return await records.write_visit_note(
            session=session,
            actor=user,
            consultation_id=consultation_id,
            note=note,
        )

    return await submit_chart_form(
        request, session, clinic.public_url, user, consultation_id, store
    )


def _prescription_payload(form: FormData) -> dict[str, Any]:
    medications = []
    # A form prefilled from a draft may have more rows than the usual three.
    for row in range(schemas.MAX_MEDICATIONS):
        values = {field: str(form.get(f"{field}_{row}", "")) for field in MEDICATION_FIELDS}
        if any(value.strip() for value in values.values()):
            medications.append(values)
    payload: dict[str, Any] = {field: str(form.get(field, "")) for field in ADVICE_FIELDS}
    payload["medications"] = medications
    if form.get("supersedes_id"):
        payload["supersedes_id"] = form.get("supersedes_id")
    if str(form.get("override_reason", "")).strip():
        payload["override_reason"] = form.get("override_reason")
    return payload


@router.post("/consultations/{consultation_id}/prescriptions", dependencies=[CsrfProtected])
async def issue_prescription(
    request: Request,
    consultation_id: uuid.UUID,
    session: Session,
    clinic: Clinic,
    user: PageViewer,
    drafts: Drafts,
) -> Response:
    async def store(form: FormData) -> object:
        issued = await records.issue_prescription(
            session=session,
            actor=user,
            consultation_id=consultation_id,
            prescription=schemas.PrescriptionIn.model_validate(_prescription_payload(form)),
        )
        if form.get("from_draft"):
            await drafts.used(session=session, actor=user, consultation_id=consultation_id)
        return issued

    return await submit_chart_form(
        request, session, clinic.public_url, user, consultation_id, store
    )


@router.get("/verify/{code}", response_class=HTMLResponse)
async def verify(
    request: Request,
    code: Annotated[str, Path(max_length=40)],
    session: Session,
) -> Response:
    """Public: whether a prescription is genuine, its date and doctor, nothing more."""
    result = await records.verify(session=session, code=code)
    return render(
        request,
        "records/verify.html",
        {
            "result": result,
            "code": code,
            "issued_on": moments.format_day(result.issued_on) if result.issued_on else "",
        },
    )
