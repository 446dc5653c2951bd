"""The admin's staff pages (list, create, a user's page: role, activity, password reset),
the invitee's page that sets their password, and the change-password page a temporary
password leads to. Thin: every change is a service verb, audited there."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError

from clinicflow.core.errors import AppError
from clinicflow.deps import (
    AuthenticatedDep,
    Clinic,
    CsrfProtected,
    PageUser,
    PageUserWithAnyPassword,
    Session,
)
from clinicflow.i18n import gettext as _
from clinicflow.identity import access, schemas
from clinicflow.identity import service as identity
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Credential, Role
from clinicflow.routing import TransactionalRoute
from clinicflow.web.pages import safe_next
from clinicflow.web.templating import refusal_page, render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

STAFF_ROLES = [Role.doctor, Role.receptionist, Role.admin]
_staff_form = TypeAdapter(schemas.UserCreate)
_password = TypeAdapter(schemas.Password)
NO_STORE = {"Cache-Control": "no-store"}

Field = Annotated[str, Form(max_length=300)]
PasswordField = Annotated[str, Form(max_length=256)]


def _credentials() -> dict[str, str]:
    return {
        Credential.invitation.value: _("An invitation link (they choose their password)"),
        Credential.temporary_password.value: _("A temporary password (changed at first sign-in)"),
    }


async def _list_context(
    session: Session, user: User, q: str | None, role: Role | None
) -> dict[str, Any]:
    users, total = await identity.list_users(
        session=session, actor=user, query=q, role=role, limit=200
    )
    return {
        "users": users,
        "total": total,
        "q": q or "",
        "role": role.value if role else "",
        "roles": list(Role),
        "staff_roles": STAFF_ROLES,
        "credentials": _credentials(),
        "form": {},
    }


@router.get("/admin/users")
async def admin_users(
    request: Request,
    session: Session,
    user: PageUser,
    q: schemas.SearchText | None = None,
    role: Role | None = None,
) -> Response:
    context = await _list_context(session, user, q, role)
    return render(request, "identity/admin_users.html", context)


@router.post("/admin/users", dependencies=[CsrfProtected])
async def create_staff(
    request: Request,
    session: Session,
    user: PageUser,
    clinic: Clinic,
    role: Field,
    name: Field,
    email: Field,
    credential: Field,
    phone: Field = "",
) -> Response:
    form = {"role": role, "name": name, "email": email, "phone": phone, "credential": credential}

    async def again() -> dict[str, Any]:
        return {**await _list_context(session, user, None, None), "form": form}

    try:
        body = _staff_form.validate_python(
            {
                "role": role,
                "name": name,
                "email": email.strip(),
                "phone": phone.strip() or None,
                "credential": credential,
            }
        )
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})
        context = await again()
        message = _("Check these fields: %(fields)s.") % {"fields": ", ".join(fields)}
        return render(
            request, "identity/admin_users.html", {**context, "error": message}, status_code=422
        )
    # Both were required by the form and checked just above.
    assert body.email is not None
    assert body.credential is not None
    try:
        handover = await identity.create_staff(
            session=session,
            actor=user,
            role=body.role,
            name=body.name,
            email=body.email,
            phone=body.phone,
            credential=body.credential,
        )
    except AppError as exc:
        return await refusal_page(request, session, exc, "identity/admin_users.html", again)
    return _handover_page(request, handover, clinic.public_url, created=True)


def _handover_page(
    request: Request, handover: identity.Handover, public_url: str, *, created: bool
) -> Response:
    """Shown once, never stored: the link or the temporary password, with a copy button."""
    token = handover.invitation_token
    link = identity.invitation_url(public_url, token) if token else None
    response = render(
        request,
        "identity/handover.html",
        {
            "person": handover.user,
            "link": link,
            "temporary_password": handover.temporary_password,
            "created": created,
        },
    )
    response.headers.update(NO_STORE)
    return response


async def _user_context(session: Session, actor: User, user_id: uuid.UUID) -> dict[str, Any]:
    person = await identity.get_user(session=session, actor=actor, user_id=user_id)
    return {
        "person": person,
        "staff_roles": STAFF_ROLES,
        "credentials": _credentials(),
        "is_self": person.id == actor.id,
        "staff": access.may_sign_in_with_password(person.role),
    }


@router.get("/admin/users/{user_id}")
async def user_page(
    request: Request, session: Session, user: PageUser, user_id: uuid.UUID
) -> Response:
    access.require_user_manager(user)
    context = await _user_context(session, user, user_id)
    return render(
        request, "identity/user.html", {**context, "saved": "saved" in request.query_params}
    )


async def _change(
    request: Request,
    session: Session,
    user: User,
    user_id: uuid.UUID,
    changes: dict[str, Any],
) -> Response:
    try:
        await identity.update_user(session=session, actor=user, user_id=user_id, changes=changes)
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            "identity/user.html",
            lambda: _user_context(session, user, user_id),
        )
    return RedirectResponse(f"/admin/users/{user_id}?saved=1", status_code=303)


@router.post("/admin/users/{user_id}/role", dependencies=[CsrfProtected])
async def change_role(
    request: Request, session: Session, user: PageUser, user_id: uuid.UUID, role: Field
) -> Response:
    try:
        new_role = Role(role)
    except ValueError:
        new_role = None
    if new_role not in STAFF_ROLES:
        context = await _user_context(session, user, user_id)
        message = _("Choose a role from the list.")
        return render(request, "identity/user.html", {**context, "error": message}, status_code=422)
    return await _change(request, session, user, user_id, {"role": new_role})


@router.post("/admin/users/{user_id}/active", dependencies=[CsrfProtected])
async def set_active(
    request: Request,
    session: Session,
    user: PageUser,
    user_id: uuid.UUID,
    active: Field,
    confirm: Field = "",
) -> Response:
    """Deactivation ends every login and socket at once, so the form asks to confirm."""
    if active != "1" and confirm != "yes":
        context = await _user_context(session, user, user_id)
        message = _("Tick the box to confirm the deactivation.")
        return render(request, "identity/user.html", {**context, "error": message}, status_code=422)
    return await _change(request, session, user, user_id, {"is_active": active == "1"})


@router.post("/admin/users/{user_id}/reset-password", dependencies=[CsrfProtected])
async def reset_password(
    request: Request,
    session: Session,
    user: PageUser,
    clinic: Clinic,
    user_id: uuid.UUID,
    credential: Field,
) -> Response:
    try:
        chosen = Credential(credential)
    except ValueError:
        chosen = Credential.invitation
    try:
        handover = await identity.reset_password(
            session=session, actor=user, user_id=user_id, credential=chosen
        )
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            "identity/user.html",
            lambda: _user_context(session, user, user_id),
        )
    return _handover_page(request, handover, clinic.public_url, created=False)


# --- the invitee and the user's own password ---------------------------------------------------


@router.get("/invite/{token}")
async def invitation_page(request: Request, session: Session, token: str) -> Response:
    person = await identity.invited_user(session=session, token=token[:128])
    response = render(request, "identity/invite.html", {"person": person, "token": token})
    response.headers.update(NO_STORE)
    return response


def _password_problem(password: str, repeated: str) -> str | None:
    try:
        _password.validate_python(password)
    except ValidationError:
        return _("Choose a password of at least 8 characters.")
    if password != repeated:
        return _("The two passwords are not the same.")
    return None


@router.post("/invite/{token}", dependencies=[CsrfProtected])
async def accept_invitation(
    request: Request,
    session: Session,
    token: str,
    password: PasswordField,
    repeated: PasswordField,
) -> Response:
    problem = _password_problem(password, repeated)
    if problem:
        person = await identity.invited_user(session=session, token=token[:128])
        return render(
            request,
            "identity/invite.html",
            {"person": person, "token": token, "error": problem},
            status_code=422,
        )
    try:
        await identity.accept_invitation(session=session, token=token[:128], password=password)
    except AppError as exc:

        async def spent() -> dict[str, Any]:
            return {"person": None, "token": token}

        return await refusal_page(request, session, exc, "identity/invite.html", spent)
    return RedirectResponse("/login?welcome=1", status_code=303)


@router.get("/password")
async def password_page(
    request: Request, user: PageUserWithAnyPassword, next: str | None = None
) -> Response:
    return render(
        request,
        "identity/password.html",
        {"forced": access.must_change_password(user), "next": next or ""},
    )


@router.post("/password", dependencies=[CsrfProtected])
async def change_password(
    request: Request,
    session: Session,
    user: PageUserWithAnyPassword,
    auth: AuthenticatedDep,
    current_password: PasswordField,
    password: PasswordField,
    repeated: PasswordField,
    next: Field = "",
) -> Response:
    forced = access.must_change_password(user)
    context = {"forced": forced, "next": next}
    problem = _password_problem(password, repeated)
    if problem:
        return render(
            request, "identity/password.html", {**context, "error": problem}, status_code=422
        )
    assert auth is not None  # the page user is signed in
    try:
        await identity.change_password(
            session=session,
            actor=user,
            login_id=auth.session_id,
            current_password=current_password,
            new_password=password,
        )
    except AppError as exc:

        async def again() -> dict[str, Any]:
            return context

        return await refusal_page(request, session, exc, "identity/password.html", again)
    return RedirectResponse(safe_next(next), status_code=303)
