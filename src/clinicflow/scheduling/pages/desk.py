"""The front desk books for a patient: find the patient by name or phone, pick a doctor and
a time in their week (which holds it for the patient), then confirm."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic import phones
from clinicflow.clinic import service as clinic
from clinicflow.config import Settings
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.core.labels import choices
from clinicflow.deps import CsrfProtected, PageUser, Session, SettingsDep, Viewer, throttled
from clinicflow.i18n import gettext as _
from clinicflow.identity import schemas as identity_schemas
from clinicflow.identity import service as identity
from clinicflow.identity.profile_form import ProfileForm, profile_changes, read_profile_form
from clinicflow.identity.schemas import Sex
from clinicflow.routing import TransactionalRoute
from clinicflow.scheduling import access
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.pages import formatting, people
from clinicflow.scheduling.pages.appointments import AppointmentRow, appointment_rows
from clinicflow.scheduling.pages.confirm import RefusalPage, book_from_form, held
from clinicflow.scheduling.pages.fields import (
    DateQuery,
    ReasonField,
    SearchQuery,
    StartsAt,
    WeekBlock,
    parse_date,
)
from clinicflow.scheduling.pages.week import week_block, week_view
from clinicflow.scheduling.schemas import Mode
from clinicflow.web.templating import refusal_page, render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)
_phone = TypeAdapter(identity_schemas.Phone)
_name = TypeAdapter(identity_schemas.Name)


@dataclass(frozen=True)
class NewPatientForm:
    """The desk's form for a patient who is not registered yet, kept as typed."""

    phone: str = ""
    name: str = ""
    profile: ProfileForm = field(default_factory=ProfileForm)


def _desk_url(**params: object) -> str:
    kept = {key: str(value) for key, value in params.items() if value not in (None, "")}
    return "/desk/book" + (f"?{urlencode(kept)}" if kept else "")


def _desk_week_url(patient_id: uuid.UUID, doctor_id: uuid.UUID) -> Callable[[date], str]:
    return lambda monday: _desk_url(patient=patient_id, doctor=doctor_id, week=monday)


async def _desk_context(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    *,
    q: str | None,
    patient_id: uuid.UUID | None,
    dq: str | None,
    doctor_id: uuid.UUID | None,
    week: date | datetime | None,
    new_patient: NewPatientForm | None = None,
) -> dict[str, Any]:
    actor = people.viewer(request)
    access.require_desk_booker(actor)
    context: dict[str, Any] = {
        "q": q or "",
        "dq": dq or "",
        "patient": None,
        "week": None,
        "new_patient": new_patient or NewPatientForm(),
        "sex_labels": choices(Sex),
    }
    if patient_id is None:
        context["patients"] = await people.find_patients(session, actor, q) if q else None
        return context
    context["patient"] = await people.patient(session, patient_id)
    if doctor_id is None:
        context["doctors"] = await people.doctors(session, dq)
        return context
    context["week"] = await week_view(
        session,
        settings,
        doctor_id=doctor_id,
        week=week,
        viewer_id=patient_id,
        url_for_week=_desk_week_url(patient_id, doctor_id),
    )
    context["hold_action"] = "/desk/book/hold"
    context["hidden"] = {"patient_id": str(patient_id), "doctor_id": str(doctor_id)}
    return context


async def _booked_row(
    session: AsyncSession, actor: Viewer, appointment_id: uuid.UUID
) -> AppointmentRow:
    found = await scheduling.get_appointment(
        session=session, actor=actor, appointment_id=appointment_id
    )
    return (await appointment_rows(session, [found], with_patients=True))[0]


def _desk_week_again(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID,
    week: datetime,
) -> RefusalPage:
    """The desk's week of the time that was refused, to pick another."""
    context = partial(
        _desk_context,
        request,
        session,
        settings,
        q=None,
        patient_id=patient_id,
        dq=None,
        doctor_id=doctor_id,
        week=week,
    )
    return RefusalPage("scheduling/desk.html", context)


async def _desk_confirm_context(
    session: AsyncSession,
    settings: Settings,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID,
    starts: datetime,
    ends: datetime,
    until: datetime,
    **extra: Any,
) -> dict[str, Any]:
    slot = await held(session, doctor_id, starts, ends, until)
    return {
        "doctor": await people.doctor(session, doctor_id),
        "patient": await people.patient(session, patient_id),
        "held": slot,
        "hold_minutes": (await clinic.current(session=session, defaults=settings)).hold_minutes,
        "action": "/desk/book",
        "hidden": {
            "patient_id": str(patient_id),
            "doctor_id": str(doctor_id),
            "held_until": until.astimezone(UTC).isoformat(),
        },
        "back_url": _desk_week_url(patient_id, doctor_id)(formatting.monday(slot.local_day)),
        "mode": Mode.in_person.value,
        "reason": "",
        **extra,
    }


@router.get("/desk/book")
async def desk(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    q: SearchQuery = None,
    patient: uuid.UUID | None = None,
    dq: SearchQuery = None,
    doctor: uuid.UUID | None = None,
    week: DateQuery = None,
    booked: uuid.UUID | None = None,
    block: WeekBlock = None,
) -> Response:
    context = await _desk_context(
        request,
        session,
        settings,
        q=q,
        patient_id=patient,
        dq=dq,
        doctor_id=doctor,
        week=parse_date(week),
    )
    if block is not None:
        return week_block(request, context)
    if booked is not None:
        context["booked"] = await _booked_row(session, people.viewer(request), booked)
    return render(request, "scheduling/desk.html", context)


@router.post("/desk/book/hold", dependencies=[CsrfProtected, throttled("holds")])
async def desk_hold(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    patient_id: Annotated[uuid.UUID, Form()],
    doctor_id: Annotated[uuid.UUID, Form()],
    starts_at: StartsAt,
) -> Response:
    access.require_desk_booker(user)
    try:
        slot = await scheduling.hold_slot(
            session=session,
            settings=settings,
            actor=user,
            doctor_id=doctor_id,
            starts_at=starts_at,
            patient_id=patient_id,
        )
    except AppError as exc:
        week = _desk_week_again(request, session, settings, patient_id, doctor_id, starts_at)
        return await refusal_page(request, session, exc, week.template, week.context)
    context = await _desk_confirm_context(
        session, settings, patient_id, doctor_id, slot.starts_at, slot.ends_at, slot.expires_at
    )
    return render(request, "scheduling/confirm.html", context)


@router.post("/desk/book", dependencies=[CsrfProtected])
async def desk_book(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    patient_id: Annotated[uuid.UUID, Form()],
    doctor_id: Annotated[uuid.UUID, Form()],
    starts_at: StartsAt,
    mode: Annotated[Mode, Form()] = Mode.in_person,
    reason: ReasonField = "",
    held_until: Annotated[str | None, Form(max_length=40)] = None,
) -> Response:
    access.require_desk_booker(user)
    return await book_from_form(
        request,
        session,
        settings,
        user,
        doctor_id=doctor_id,
        patient_id=patient_id,
        starts_at=starts_at,
        mode=mode,
        reason=reason,
        held_until=held_until,
        confirm_context=partial(
            _desk_confirm_context, session, settings, patient_id, doctor_id, starts_at
        ),
        pick_again=_desk_week_again(request, session, settings, patient_id, doctor_id, starts_at),
        booked_url=lambda appointment: _desk_url(patient=patient_id, booked=appointment.id),
    )


def _new_patient_problem(phone: str, name: str) -> AppError | None:
    try:
        _phone.validate_python(phone)
    except ValidationError:
        message = _("Write a phone number, like {example}.").format(example=phones.example())
        return AppError(ErrorCode.validation_error, message, {"field": "phone"})
    try:
        _name.validate_python(name)
    except ValidationError:
        return AppError(
            ErrorCode.validation_error, _("Write the patient's name."), {"field": "name"}
        )
    return None


@router.post("/desk/book/patient", dependencies=[CsrfProtected])
async def desk_new_patient(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    phone: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=240)] = "",
    profile: Annotated[ProfileForm, Depends(read_profile_form)] = ProfileForm(),
) -> Response:
    """Register a new patient (or find the one with this phone) with their profile, then
    carry on booking for them; a refusal shows the form again with all that was typed."""
    access.require_desk_booker(user)
    form = NewPatientForm(phone, name, profile)
    context = partial(
        _desk_context,
        request,
        session,
        settings,
        q=None,
        patient_id=None,
        dq=None,
        doctor_id=None,
        week=None,
        new_patient=form,
    )
    try:
        problem = _new_patient_problem(phone, name)
        if problem is not None:
            raise problem
        patient = await identity.find_or_register_patient(
            session=session,
            actor=user,
            phone=_phone.validate_python(phone),
            name=_name.validate_python(name),
        )
        changes = profile_changes(profile, blank_clears=False)
        if changes:
            await identity.record_patient_profile(
                session, actor=user, patient_id=patient.id, changes=changes
            )
    except AppError as exc:
        return await refusal_page(request, session, exc, "scheduling/desk.html", context)
    return RedirectResponse(_desk_url(patient=patient.id), status_code=303)
