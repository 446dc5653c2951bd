"""The front desk (`/desk/queue`): walk-ins, check-in by code or from today's booked list,
every doctor's queue of today, and the receipt the patient is told.

Each doctor's queue is the block `desk_queue` of the page's template, drawn on the first
response and again alone by `/desk/queue/{doctor_id}/fragment` when its topic announces a
change (`static/js/queue-staff.js`); moving a patient is a form that works without a script.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic import phones
from clinicflow.config import Settings
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.core.labels import choices
from clinicflow.deps import CsrfProtected, PageViewer, Session, SettingsDep, Viewer
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.identity.profile_form import ProfileForm, profile_changes, read_profile_form
from clinicflow.identity.schemas import PatientType, Sex
from clinicflow.queue import access, schemas
from clinicflow.queue import service as queues
from clinicflow.queue.pages.check_in_cards import todays_appointments
from clinicflow.queue.pages.staff_queue import staff_queue
from clinicflow.queue.pages.texts import doctor_state_labels
from clinicflow.queue.schemas import Severity
from clinicflow.routing import TransactionalRoute
from clinicflow.web.templating import refusal_page, render, render_block

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


@dataclass(frozen=True)
class WalkInForm:
    doctor_id: str = ""
    phone: str = ""
    name: str = ""
    severity: str = Severity.routine.value
    patient_type: str = ""
    profile: ProfileForm = field(default_factory=ProfileForm)


class CardAction(StrEnum):
    """What the desk does from a patient's card, each through the queue's own verb (the
    service decides who may and from which status)."""

    # Call again: the patient with the doctor (tell them once more), or one who missed it.
    recall = "recall"
    # A patient who missed their turn is back: their place within the grace, else a token.
    arrived = "arrived"
    # A patient who did not come asks again: a new token at the end of the queue.
    requeue = "requeue"
    # The patient has left (asked to confirm first).
    cancel = "cancel"


@dataclass(frozen=True)
class DoctorOption:
    id: uuid.UUID
    name: str
    specialty: str


async def receipt(session: AsyncSession, viewer: Viewer, entry_id: uuid.UUID) -> dict[str, Any]:
    """What the desk tells the patient after a walk-in or check-in: token, doctor, place."""
    entry = await access.get_entry_for(session, viewer, entry_id)
    current = await queues.state(session, await queues.queue_of(session, entry))
    names = await identity.names(session, {entry.patient_id, entry.doctor_id})
    out = current.entry(entry, names.get(entry.patient_id))
    return {
        "token": entry.token,
        "patient_id": entry.patient_id,
        "patient": names.get(entry.patient_id, ""),
        "doctor": names.get(entry.doctor_id, ""),
        "position": out.position,
        "minutes": out.estimated_wait_minutes,
    }


def _live_context() -> dict[str, Any]:
    """What the block `desk_queue` reads besides its queue, drawn whole or alone."""
    return {"doctor_state": doctor_state_labels()}


async def _desk_context(
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
    *,
    form: WalkInForm | None = None,
    done: uuid.UUID | None = None,
) -> dict[str, Any]:
    access.require_front_desk(viewer)
    doctors = await identity.search_doctors(session)
    queue_data = [
        await staff_queue(session, viewer, doctor_id=doctor.id, doctor_name=doctor.name, day=None)
        for doctor in doctors
    ]
    done_receipt = None
    if done is not None:
        try:
            done_receipt = await receipt(session, viewer, done)
        except AppError:
            done_receipt = None
    return {
        "doctors": [
            DoctorOption(d.id, d.name, d.doctor.specialty if d.doctor else "") for d in doctors
        ],
        "form": form or WalkInForm(),
        "severity_labels": choices(Severity),
        "patient_type_labels": choices(PatientType),
        "sex_labels": choices(Sex),
        "appointments": await todays_appointments(session, viewer, settings, with_qr=False),
        "receipt": done_receipt,
        "queues": queue_data,
        **_live_context(),
    }


# What a search for a patient by phone looks like: digits and the signs people write in one.
PHONE_LIKE = re.compile(r"[+\d][\d\s().-]*")


def prefilled(searched: str) -> WalkInForm:
    """The walk-in form filled in with what the desk searched for and did not find
    ("No patient matches" on the booking page links here): a phone as the phone, anything
    else as the name. The form's fields stay as they are; only their values are given."""
    searched = searched.strip()
    if PHONE_LIKE.fullmatch(searched):
        return WalkInForm(phone=searched)
    return WalkInForm(name=searched)


@router.get("/desk/queue")
async def desk_queue(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
    done: uuid.UUID | None = None,
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    form = prefilled(q) if q.strip() else None
    context = await _desk_context(session, user, settings, form=form, done=done)
    return render(request, "queue/desk.html", context)


@router.get("/desk/queue/{doctor_id}/fragment")
async def desk_queue_fragment(
    request: Request,
    session: Session,
    user: PageViewer,
    doctor_id: uuid.UUID,
    date: date | None = None,
) -> Response:
    """One doctor's queue alone (the page's block `desk_queue`), for the page to swap in
    when the queue's topic announces a change. The page's access (the front desk only),
    and a not-found for an id that is not an active doctor's."""
    access.require_front_desk(user)
    doctor = await identity.get_doctor(session, doctor_id)
    item = await staff_queue(session, user, doctor_id=doctor.id, doctor_name=doctor.name, day=date)
    return render_block(request, "queue/desk.html", "desk_queue", {"item": item, **_live_context()})


@router.post("/desk/queue/walk-in", dependencies=[CsrfProtected])
async def desk_walk_in(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
    doctor_id: Annotated[str, Form(max_length=64)] = "",
    phone: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=240)] = "",
    severity: Annotated[str, Form(max_length=16)] = Severity.routine.value,
    patient_type: Annotated[str, Form(max_length=16)] = "",
    profile: Annotated[ProfileForm, Depends(read_profile_form)] = ProfileForm(),
) -> Response:
    access.require_front_desk(user)
    form = WalkInForm(doctor_id, phone, name, severity, patient_type, profile)
    try:
        body = schemas.WalkInIn.model_validate(
            {
                "doctor_id": doctor_id,
                "phone": phone,
                "name": name,
                "severity": severity,
                "patient_type": patient_type or None,
            }
        )
    except ValidationError as exc:
        fields = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        context = await _desk_context(session, user, settings, form=form)
        return render(
            request,
            "queue/desk.html",
            {**context, "error": _walk_in_problem(fields)},
            status_code=422,
        )
    try:
        entry = await queues.walk_in(
            session=session,
            actor=user,
            doctor_id=body.doctor_id,
            phone=body.phone,
            name=body.name,
            severity=body.severity,
            patient_type=body.patient_type,
            profile=profile_changes(profile, blank_clears=False),
        )
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            "queue/desk.html",
            lambda: _desk_context(session, user, settings, form=form),
        )
    return RedirectResponse(f"/desk/queue?done={entry.id}", status_code=303)


def _walk_in_problem(fields: set[str]) -> str:
    if "doctor_id" in fields:
        return _("Choose a doctor.")
    if "phone" in fields:
        return _("Write a phone number, like {example}.").format(example=phones.example())
    if "name" in fields:
        return _("Write the patient's name.")
    return _("Choose how urgent it is and the kind of patient from the lists.")


@router.post("/desk/queue/check-in", dependencies=[CsrfProtected])
async def desk_check_in(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
    appointment_id: Annotated[uuid.UUID | None, Form()] = None,
    code: Annotated[str | None, Form(max_length=32)] = None,
) -> Response:
    access.require_front_desk(user)
    try:
        if appointment_id is None and not (code or "").strip():
            raise AppError(
                ErrorCode.validation_error,
                _("Type the check-in code from the patient's screen."),
                {"field": "code"},
            )
        entry, _created = await queues.check_in(
            session=session,
            settings=settings,
            actor=user,
            appointment_id=appointment_id,
            code=code,
        )
    except AppError as exc:
        return await refusal_page(
            request, session, exc, "queue/desk.html", lambda: _desk_context(session, user, settings)
        )
    return RedirectResponse(f"/desk/queue?done={entry.id}", status_code=303)


@router.post("/desk/queue/move", dependencies=[CsrfProtected])
async def desk_move(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
    entry_id: Annotated[uuid.UUID, Form()],
    before_entry_id: Annotated[uuid.UUID, Form()],
    reason: Annotated[schemas.Reason, Form()],
) -> Response:
    """Move a waiting patient just before another (the service keeps who may and why)."""
    access.require_front_desk(user)
    try:
        _current, entry = await queues.move(
            session=session,
            actor=user,
            entry_id=entry_id,
            before_entry_id=before_entry_id,
            reason=reason,
        )
    except AppError as exc:
        return await refusal_page(
            request, session, exc, "queue/desk.html", lambda: _desk_context(session, user, settings)
        )
    return RedirectResponse(f"/desk/queue#queue-{entry.doctor_id}", status_code=303)


@router.post("/desk/queue/{doctor_id}/call-next", dependencies=[CsrfProtected])
async def desk_call_next(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
    doctor_id: uuid.UUID,
) -> Response:
    """Call the next patient to the doctor, from the first waiting patient's card."""
    access.require_front_desk(user)
    try:
        await queues.call_next(session=session, actor=user, doctor_id=doctor_id)
    except AppError as exc:
        return await refusal_page(
            request, session, exc, "queue/desk.html", lambda: _desk_context(session, user, settings)
        )
    return RedirectResponse(f"/desk/queue#queue-{doctor_id}", status_code=303)


@router.post("/desk/queue/entries/{entry_id}/{action}", dependencies=[CsrfProtected])
async def desk_card_action(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
    entry_id: uuid.UUID,
    action: CardAction,
) -> Response:
    """Call again, mark arrived, give a new token or cancel, from a patient's card; then
    the page again at that doctor's queue (or the service's refusal on it)."""
    access.require_front_desk(user)
    try:
        match action:
            case CardAction.recall:
                _state, entry = await queues.recall(session=session, actor=user, entry_id=entry_id)
            case CardAction.arrived | CardAction.requeue:
                entry = await queues.requeue(
                    session=session,
                    actor=user,
                    entry_id=entry_id,
                    reason="arrived late" if action is CardAction.arrived else None,
                )
            case CardAction.cancel:
                _state, entry = await queues.cancel(session=session, actor=user, entry_id=entry_id)
    except AppError as exc:
        return await refusal_page(
            request, session, exc, "queue/desk.html", lambda: _desk_context(session, user, settings)
        )
    return RedirectResponse(f"/desk/queue#queue-{entry.doctor_id}", status_code=303)
