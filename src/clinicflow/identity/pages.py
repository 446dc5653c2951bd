"""Sign-in pages (staff by password, patients by phone code), sign-out and each role's home."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError

from clinicflow.config import Settings
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.deps import (
    SESSION_COOKIE,
    AuthenticatedDep,
    ClientInfo,
    CsrfProtected,
    Limiter,
    OptionalPageUser,
    PageUser,
    Session,
    SettingsDep,
)
from clinicflow.i18n import gettext as _
from clinicflow.identity import schemas
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.routing import TransactionalRoute
from clinicflow.web.pages import LANGUAGE_COOKIE, safe_next, set_language_cookie
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
    phone: Annotated[str, Form(max_length=32)],
) -> Response:
    try:
        normalized = _phone.validate_python(phone)
    except ValidationError:
        return render(
            request,
            "identity/phone.html",
            {
                "phone": phone,
                "error": _("Enter your phone in international format, like +254712345678."),
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
        message = _("Enter your phone in international format, like +254712345678.")
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
    return _signed_in(request, settings, login, "/home")


@router.post("/logout", dependencies=[CsrfProtected])
async def logout(session: Session, auth: AuthenticatedDep) -> Response:
    if auth is not None:
        await identity.logout(session=session, session_id=auth.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/home")
async def home(request: Request, user: PageUser) -> Response:
    return render(request, f"home/{user.role.value}.html")


@router.get("/admin/users")
async def admin_users(
    request: Request, session: Session, user: PageUser, q: schemas.SearchText | None = None
) -> Response:
    users, total = await identity.list_users(session=session, actor=user, query=q, limit=200)
    return render(
        request,
        "identity/admin_users.html",
        {"users": users, "total": total, "q": q or "", "roles": list(Role)},
    )
