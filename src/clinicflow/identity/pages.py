"""Sign-in pages (staff by password, patients by phone code), sign-out and each role's home."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic import phones
from clinicflow.config import Settings
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.core.labels import choices
from clinicflow.deps import (
    SESSION_COOKIE,
    AuthenticatedDep,
    ClientInfo,
    CsrfProtected,
    Limiter,
    OptionalPageUser,
    PageUser,
    PageViewer,
    Session,
    SettingsDep,
)
from clinicflow.i18n import gettext as _
from clinicflow.identity import access, schemas
from clinicflow.identity import service as identity
from clinicflow.identity.models import User
from clinicflow.identity.profile_form import ProfileForm, profile_changes, read_profile_form
from clinicflow.identity.schemas import Language, Sex
from clinicflow.routing import TransactionalRoute, writes
from clinicflow.web.pages import (
    LANGUAGE_COOKIE,
    NEXT_COOKIE,
    remembered_next,
    safe_next,
    set_language_cookie,
)
from clinicflow.web.templating import refusal_page, render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)
_phone = TypeAdapter(schemas.Phone)
_name = TypeAdapter(schemas.Name | None)

Text = Annotated[str, Form(max_length=300)]
OptionalText = Annotated[str | None, Form(max_length=300)]


def _signed_in(
    request: Request, settings: Settings, login: identity.Login, next_path: str | None
) -> Response:
    response = RedirectResponse(safe_next(next_path), status_code=303)
    assert login.cookie  # a web login always carries its cookie
    response.set_cookie(
        SESSION_COOKIE,
        login.cookie,
        max_age=settings.web_session_days * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    # A patient's saved language wins over the browser's until they switch on this device.
    patient = login.user.patient
    if patient is not None and LANGUAGE_COOKIE not in request.cookies:
        set_language_cookie(request, response, patient.preferred_language.value)
    return response


async def _as_posted() -> dict[str, Any]:
    """A sign-in form shown again after a refusal holds what was posted and nothing stored."""
    return {}


@router.get("/login")
async def staff_login_form(
    request: Request, user: OptionalPageUser, next: str | None = None
) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "identity/login.html", {"next": next or ""})


@router.post("/login", dependencies=[CsrfProtected])
async def staff_login(
    request: Request,
    session: Session,
    settings: SettingsDep,
    limiter: Limiter,
    client: ClientInfo,
    email: Text,
    password: Annotated[str, Form(max_length=256)],
    next: OptionalText = None,
) -> Response:
    try:
        login = await identity.login_with_password(
            session=session,
            settings=settings,
            limiter=limiter,
            email=email,
            password=password,
            client=client,
            kind=identity.SessionKind.web,
        )
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            "identity/login.html",
            _as_posted,
            next=next or "",
            email=email,
        )
    return _signed_in(request, settings, login, next)


@router.get("/login/phone")
async def phone_login_form(request: Request, user: OptionalPageUser) -> Response:
    if user is not None:
        return RedirectResponse("/home", status_code=303)
    return render(request, "identity/phone.html")


@router.post("/login/phone", dependencies=[CsrfProtected])
async def phone_request_code(
    request: Request,
    session: Session,
    settings: SettingsDep,
    limiter: Limiter,
    client: ClientInfo,
    # Checked below, so an empty or long number is the form's error, not a JSON one.
    phone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    try:
        normalized = _phone.validate_python(phone)
    except ValidationError:
        return render(
            request,
            "identity/phone.html",
            {
                "phone": phone,
                "error": _("Enter your phone number, like {example}.").format(
                    example=phones.example()
                ),
            },
            status_code=422,
        )
    try:
        await identity.request_otp(
            session=session, settings=settings, limiter=limiter, phone=normalized, client=client
        )
    except AppError as exc:
        return await refusal_page(
            request, session, exc, "identity/phone.html", _as_posted, phone=phone
        )
    return RedirectResponse(
        f"/login/phone/verify?{urlencode({'phone': normalized})}", status_code=303
    )


@router.get("/login/phone/verify")
async def phone_code_form(
    request: Request, settings: SettingsDep, user: OptionalPageUser, phone: str = ""
) -> Response:
    if user is not None:
        return RedirectResponse("/home", status_code=303)
    return render(
        request,
        "identity/verify.html",
        {"phone": phone, "valid_minutes": settings.otp_valid_minutes},
    )


@router.post("/login/phone/verify", dependencies=[CsrfProtected])
async def phone_verify_code(
    request: Request,
    session: Session,
    settings: SettingsDep,
    limiter: Limiter,
    client: ClientInfo,
    phone: Annotated[str, Form(max_length=32)],
    code: Annotated[str, Form(max_length=12)],
    name: OptionalText = None,
) -> Response:
    context: dict[str, object] = {
        "phone": phone,
        "code": code,
        "name": name or "",
        "valid_minutes": settings.otp_valid_minutes,
    }
    try:
        checked_phone = _phone.validate_python(phone)
    except ValidationError:
        message = _("Enter your phone number, like {example}.").format(example=phones.example())
        return render(
            request, "identity/verify.html", {**context, "error": message}, status_code=422
        )
    try:
        checked_name = _name.validate_python((name or "").strip() or None)
    except ValidationError:
        message = _("Enter your name in plain letters.")
        return render(
            request, "identity/verify.html", {**context, "error": message}, status_code=422
        )
    try:
        login = await identity.verify_otp(
            session=session,
            settings=settings,
            limiter=limiter,
            phone=checked_phone,
            code=code.strip(),
            name=checked_name,
            client=client,
            kind=identity.SessionKind.web,
        )
    except AppError as exc:
        context["needs_name"] = exc.code is ErrorCode.name_required
        return await refusal_page(
            request, session, exc, "identity/verify.html", _as_posted, **context
        )
    response = _signed_in(request, settings, login, remembered_next(request))
    response.delete_cookie(NEXT_COOKIE, path="/")  # followed once, never again
    return response


@router.post("/logout", dependencies=[CsrfProtected])
async def logout(session: Session, auth: AuthenticatedDep) -> Response:
    if auth is not None:
        await identity.logout(session=session, session_id=auth.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- the patient's own page: contact details and language --------------------------------


@dataclass(frozen=True)
class ContactForm:
    """A patient's contact details as typed (or as stored, to begin with)."""

    phone: str = ""
    name: str = ""
    email: str = ""
    preferred_language: str = ""


def _contact_form(user: User) -> ContactForm:
    language = user.patient.preferred_language.value if user.patient else ""
    return ContactForm(user.phone or "", user.name, user.email or "", language)


async def _me_context(session: AsyncSession, viewer: Actor, form: ContactForm) -> dict[str, Any]:
    """Drawn from the viewer's plain values and the form, never from the `User` row, which
    a refusal's rollback has expired."""
    access.require_own_contact_editor(viewer)
    return {
        "form": form,
        "profile": await identity.read_patient_profile(
            session=session, actor=viewer, patient_id=viewer.id
        ),
        "language_labels": {language.value: language.label for language in Language},
    }


@router.get("/me")
async def my_details(request: Request, session: Session, user: PageUser) -> Response:
    """The patient's own page: their phone, name, email and language, and what the clinic
    recorded about them (read only; the desk corrects it)."""
    access.require_own_contact_editor(user)
    context = await _me_context(session, request.state.viewer, _contact_form(user))
    return render(
        request, "identity/me.html", {**context, "saved": "saved" in request.query_params}
    )


def _contact_problem(fields: set[str]) -> str:
    if "phone" in fields:
        return _("Enter your phone number, like {example}.").format(example=phones.example())
    if "name" in fields:
        return _("Enter your name in plain letters.")
    if "email" in fields:
        return _("Enter an email address like name@example.com, or leave it empty.")
    return _("Choose a language from the list.")


@router.post("/me", dependencies=[CsrfProtected])
async def save_my_details(
    request: Request,
    session: Session,
    user: PageUser,
    phone: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=240)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    preferred_language: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    viewer: Actor = request.state.viewer
    access.require_own_contact_editor(viewer)
    form = ContactForm(phone.strip(), name, email.strip(), preferred_language)
    try:
        changes = schemas.MeUpdate.model_validate(
            {
                "phone": form.phone,
                "name": form.name,
                "email": form.email or None,
                "preferred_language": form.preferred_language or None,
            }
        ).model_dump(exclude_unset=True)
    except ValidationError as exc:
        fields = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        context = await _me_context(session, viewer, form)
        return render(
            request,
            "identity/me.html",
            {**context, "error": _contact_problem(fields)},
            status_code=422,
        )
    try:
        await identity.update_own_contact(session=session, actor=user, changes=changes)
    except AppError as exc:
        return await refusal_page(
            request, session, exc, "identity/me.html", lambda: _me_context(session, viewer, form)
        )
    response = RedirectResponse("/me?saved=1", status_code=303)
    if changes.get("preferred_language"):
        set_language_cookie(request, response, changes["preferred_language"].value)
    return response


# --- a patient's profile, for the front desk to correct and their doctor to read -----------


@dataclass(frozen=True)
class VersionRow:
    version: int
    when: datetime  # shown `| moment`, on the clinic's clock
    fields: str
    by: str


async def _profile_context(
    session: AsyncSession,
    actor: Actor,
    patient_id: uuid.UUID,
    form: ProfileForm | None = None,
) -> dict[str, Any]:
    view = await identity.read_patient_profile(session=session, actor=actor, patient_id=patient_id)
    may_correct = access.can_correct_profile(actor)
    versions: list[VersionRow] = []
    if may_correct:
        kept = await identity.patient_profile_history(
            session=session, actor=actor, patient_id=patient_id
        )
        names = await identity.names(session, {v.changed_by_id for v in kept if v.changed_by_id})
        labels = _field_labels()
        versions = [
            VersionRow(
                v.version,
                v.changed_at,
                ", ".join(labels.get(f, f) for f in v.fields),
                names.get(v.changed_by_id, "") if v.changed_by_id else "",
            )
            for v in kept
        ]
    return {
        "patient_id": patient_id,
        "patient_name": (await identity.names(session, [patient_id])).get(patient_id, ""),
        "profile": view,
        "form": form or ProfileForm.of(view),
        "may_correct": may_correct,
        "versions": versions,
        "sex_labels": choices(Sex),
    }


def _field_labels() -> dict[str, str]:
    return {
        "date_of_birth": _("Date of birth"),
        "estimated_age": _("Estimated age"),
        "sex": _("Sex"),
        "national_id": _("National ID"),
        "insurance_number": _("Insurance number"),
        "next_of_kin_name": _("Next of kin"),
        "next_of_kin_phone": _("Next of kin's phone"),
    }


@router.get("/patients/{patient_id}/profile")
@writes
async def patient_profile_page(
    request: Request, session: Session, user: PageViewer, patient_id: uuid.UUID
) -> Response:
    """Staff reads are audited, so this page runs as a writer."""
    context = await _profile_context(session, user, patient_id)
    return render(
        request,
        "identity/profile.html",
        {**context, "saved": "saved" in request.query_params},
    )


@router.post("/patients/{patient_id}/profile", dependencies=[CsrfProtected])
async def correct_patient_profile(
    request: Request,
    session: Session,
    user: PageViewer,
    patient_id: uuid.UUID,
    profile: Annotated[ProfileForm, Depends(read_profile_form)],
) -> Response:
    try:
        await identity.record_patient_profile(
            session,
            actor=user,
            patient_id=patient_id,
            changes=profile_changes(profile, blank_clears=True),
        )
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            "identity/profile.html",
            lambda: _profile_context(session, user, patient_id, profile),
        )
    return RedirectResponse(f"/patients/{patient_id}/profile?saved=1", status_code=303)
