"""A doctor's profile page (the admin edits any doctor, a doctor their own bio, languages
and photo), the photo patients see, and the admin's specialty list."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import ValidationError

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, not_found
from clinicflow.deps import CsrfProtected, PageUser, PageViewer, Session, SettingsDep
from clinicflow.i18n import gettext as _
from clinicflow.identity import access, schemas
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import VisitKind
from clinicflow.routing import TransactionalRoute
from clinicflow.web.templating import refusal_page, render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

Text = Annotated[str, Form(max_length=4000)]


async def _profile_context(
    session: Session, actor: Actor, doctor_id: uuid.UUID, form: dict[str, Any] | None = None
) -> dict[str, Any]:
    doctor = await identity.doctor_for_editing(session=session, actor=actor, doctor_id=doctor_id)
    profile = doctor.doctor
    assert profile is not None  # a doctor always has one
    return {
        "doctor": doctor,
        "profile": profile,
        "allowed": access.doctor_profile_fields(actor, doctor_id),
        "specialties": await identity.specialties(session=session),
        "kinds": list(VisitKind),
        "form": form
        or {
            "specialty_id": str(profile.specialty_id or ""),
            "languages": ", ".join(profile.languages),
            "bio": profile.bio,
            "registration_number": profile.registration_number or "",
            "consultation_types": list(profile.consultation_types),
            "consultation_minutes": str(profile.consultation_minutes),
        },
    }


@router.get("/doctors/{doctor_id}/profile")
async def profile_page(
    request: Request, session: Session, user: PageViewer, doctor_id: uuid.UUID
) -> Response:
    context = await _profile_context(session, user, doctor_id)
    return render(
        request,
        "identity/doctor_profile.html",
        {**context, "saved": "saved" in request.query_params},
    )


def _changes_from(form: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """The fields the actor may change, as the API would take them."""
    raw: dict[str, Any] = {
        "specialty_id": form["specialty_id"] or None,
        "languages": [part for part in form["languages"].split(",") if part.strip()],
        "bio": form["bio"],
        "registration_number": form["registration_number"].strip() or None,
        "consultation_types": form["consultation_types"],
        "consultation_minutes": form["consultation_minutes"] or None,
    }
    wanted = {k: v for k, v in raw.items() if k in allowed}
    return schemas.DoctorProfileIn.model_validate(wanted).model_dump(exclude_unset=True)


def _form_problem(fields: set[str]) -> str:
    if "languages" in fields:
        return _("List up to 8 languages, separated by commas.")
    if "consultation_minutes" in fields:
        return _("Minutes per visit must be between 5 and 240.")
    if "registration_number" in fields:
        return _("The registration number can have at most 40 characters.")
    return _("Check the fields and try again.")


@router.post("/doctors/{doctor_id}/profile", dependencies=[CsrfProtected])
async def save_profile(
    request: Request,
    session: Session,
    user: PageViewer,
    doctor_id: uuid.UUID,
    specialty_id: Annotated[str, Form(max_length=40)] = "",
    languages: Annotated[str, Form(max_length=400)] = "",
    bio: Text = "",
    registration_number: Annotated[str, Form(max_length=60)] = "",
    consultation_types: Annotated[list[str] | None, Form()] = None,
    consultation_minutes: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    form = {
        "specialty_id": specialty_id,
        "languages": languages,
        "bio": bio,
        "registration_number": registration_number,
        "consultation_types": consultation_types or [],
        "consultation_minutes": consultation_minutes,
    }
    allowed = access.doctor_profile_fields(user, doctor_id)
    try:
        changes = _changes_from(form, allowed)
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        context = await _profile_context(session, user, doctor_id, form)
        return render(
            request,
            "identity/doctor_profile.html",
            {**context, "error": _form_problem(fields)},
            status_code=422,
        )
    try:
        await identity.update_doctor_profile(
            session=session, actor=user, doctor_id=doctor_id, changes=changes
        )
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            "identity/doctor_profile.html",
            lambda: _profile_context(session, user, doctor_id, form),
        )
    return RedirectResponse(f"/doctors/{doctor_id}/profile?saved=1", status_code=303)


@router.post("/doctors/{doctor_id}/photo", dependencies=[CsrfProtected])
async def upload_photo(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
    doctor_id: uuid.UUID,
    photo: Annotated[UploadFile, File()],
) -> Response:
    data = await photo.read(identity.PHOTO_MAX_BYTES + 1)
    try:
        await identity.set_doctor_photo(
            session=session, actor=user, doctor_id=doctor_id, data=data, var_dir=settings.var_dir
        )
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            "identity/doctor_profile.html",
            lambda: _profile_context(session, user, doctor_id),
        )
    return RedirectResponse(f"/doctors/{doctor_id}/profile?saved=1", status_code=303)


@router.get("/doctors/{doctor_id}/photo")
async def photo(session: Session, settings: SettingsDep, doctor_id: uuid.UUID) -> Response:
    """Public, like the doctors' list patients book from; the file name changes with each
    upload, so a day's caching never shows an old photo for long."""
    found = await identity.doctor_photo(
        session=session, doctor_id=doctor_id, var_dir=settings.var_dir
    )
    if found is None:
        raise not_found()
    path, media_type = found
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "max-age=3600"})


# --- the specialty list ------------------------------------------------------------------------


async def _specialties_context(session: Session, actor: Actor) -> dict[str, Any]:
    access.require_specialty_keeper(actor)
    return {"specialties": await identity.specialties(session=session, include_retired=True)}


@router.get("/admin/specialties")
async def specialties_page(request: Request, session: Session, user: PageUser) -> Response:
    context = await _specialties_context(session, user)
    return render(
        request,
        "identity/specialties.html",
        {**context, "saved": "saved" in request.query_params},
    )


def _names(name_en: str, name_sw: str) -> schemas.SpecialtyIn | None:
    try:
        return schemas.SpecialtyIn(name_en=name_en, name_sw=name_sw)
    except ValidationError:
        return None


async def _specialty_refused(
    request: Request, session: Session, user: Actor, message: str
) -> Response:
    context = await _specialties_context(session, user)
    return render(
        request, "identity/specialties.html", {**context, "error": message}, status_code=422
    )


NAME = Annotated[str, Form(max_length=120)]


@router.post("/admin/specialties", dependencies=[CsrfProtected])
async def add_specialty(
    request: Request, session: Session, user: PageViewer, name_en: NAME = "", name_sw: NAME = ""
) -> Response:
    names = _names(name_en, name_sw)
    if names is None:
        return await _specialty_refused(
            request, session, user, _("Give the specialty's name in English and in Swahili.")
        )
    try:
        await identity.add_specialty(
            session=session, actor=user, name_en=names.name_en, name_sw=names.name_sw
        )
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            "identity/specialties.html",
            lambda: _specialties_context(session, user),
        )
    return RedirectResponse("/admin/specialties?saved=1", status_code=303)


@router.post("/admin/specialties/{specialty_id}", dependencies=[CsrfProtected])
async def change_specialty(
    request: Request,
    session: Session,
    user: PageViewer,
    specialty_id: uuid.UUID,
    name_en: NAME = "",
    name_sw: NAME = "",
    retired: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    """Rename (both names sent) or retire / bring back (`retired` is "1" or "0")."""
    changes: dict[str, Any] = {}
    if retired:
        changes["retired"] = retired == "1"
    else:
        names = _names(name_en, name_sw)
        if names is None:
            return await _specialty_refused(
                request, session, user, _("Give the specialty's name in English and in Swahili.")
            )
        changes = {"name_en": names.name_en, "name_sw": names.name_sw}
    try:
        await identity.update_specialty(
            session=session, actor=user, specialty_id=specialty_id, **changes
        )
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            "identity/specialties.html",
            lambda: _specialties_context(session, user),
        )
    return RedirectResponse("/admin/specialties?saved=1", status_code=303)
