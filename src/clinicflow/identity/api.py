"""HTTP routes of identity: thin translations between JSON and the service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from clinicflow.clinic.schemas import ClinicProfile
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.deps import (
    AuthenticatedDep,
    ClientInfo,
    Clinic,
    CurrentAdmin,
    CurrentUser,
    LenientAuthenticatedDep,
    Limiter,
    Session,
    SettingsDep,
)
from clinicflow.i18n import gettext as _
from clinicflow.identity import schemas
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.routing import TransactionalRoute, writes

router = APIRouter(prefix="/api", route_class=TransactionalRoute)


def _tokens(login: identity.Login, minutes: int) -> schemas.TokenPair:
    # An API login always carries both tokens.
    assert login.access_token is not None
    assert login.refresh_token is not None
    return schemas.TokenPair(
        access_token=login.access_token,
        refresh_token=login.refresh_token,
        expires_in=minutes * 60,
        user=schemas.UserOut.model_validate(login.user),
    )


@router.post("/auth/login", tags=["auth"])
async def login(
    body: schemas.LoginRequest,
    session: Session,
    settings: SettingsDep,
    limiter: Limiter,
    client: ClientInfo,
) -> schemas.TokenPair:
    started = await identity.login_with_password(
        session=session,
        settings=settings,
        limiter=limiter,
        email=body.email,
        password=body.password,
        client=client,
    )
    return _tokens(started, settings.access_token_minutes)


@router.post("/auth/otp/request", tags=["auth"], status_code=status.HTTP_202_ACCEPTED)
async def request_otp(
    body: schemas.OtpRequest,
    session: Session,
    settings: SettingsDep,
    limiter: Limiter,
    client: ClientInfo,
) -> schemas.OtpRequested:
    sent = await identity.request_otp(
        session=session, settings=settings, limiter=limiter, phone=body.phone, client=client
    )
    return schemas.OtpRequested(
        sent=True,
        expires_in_seconds=sent.expires_in_seconds,
        resend_after_seconds=sent.resend_after_seconds,
    )


@router.post("/auth/otp/verify", tags=["auth"])
async def verify_otp(
    body: schemas.OtpVerify,
    session: Session,
    settings: SettingsDep,
    limiter: Limiter,
    client: ClientInfo,
) -> schemas.TokenPair:
    started = await identity.verify_otp(
        session=session,
        settings=settings,
        limiter=limiter,
        phone=body.phone,
        code=body.code,
        name=body.name,
        client=client,
    )
    return _tokens(started, settings.access_token_minutes)


@router.post("/auth/refresh", tags=["auth"])
async def refresh(
    body: schemas.RefreshRequest, session: Session, settings: SettingsDep
) -> schemas.TokenPair:
    renewed = await identity.refresh(
        session=session, settings=settings, refresh_token=body.refresh_token
    )
    return _tokens(renewed, settings.access_token_minutes)


@router.post("/auth/logout", tags=["auth"], status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    session: Session, auth: LenientAuthenticatedDep, body: schemas.LogoutRequest | None = None
) -> None:
    """Ends the login named by the bearer token, the refresh token in the body, or both."""
    await identity.logout(
        session=session,
        session_id=auth.session_id if auth else None,
        refresh_token=body.refresh_token if body else None,
    )


@router.get("/me", tags=["users"])
async def me(user: CurrentUser) -> schemas.UserOut:
    return schemas.UserOut.model_validate(user)


@router.put("/me", tags=["users"])
async def update_me(body: schemas.MeUpdate, session: Session, user: CurrentUser) -> schemas.UserOut:
    """A patient's own name, phone, email and language; the fields left out are kept."""
    changed = await identity.update_own_contact(
        session=session, actor=user, changes=body.model_dump(exclude_unset=True)
    )
    return schemas.UserOut.model_validate(changed)


def _profile_out(view: schemas.PatientProfileView) -> schemas.ClinicalProfileOut:
    return schemas.ClinicalProfileOut.model_validate(view)


@router.get("/patients/{patient_id}/profile", tags=["patients"])
@writes
async def get_patient_profile(
    patient_id: uuid.UUID, session: Session, user: CurrentUser
) -> schemas.ClinicalProfileOut:
    """Staff reads are audited, so this read runs as a writer."""
    view = await identity.read_patient_profile(session=session, actor=user, patient_id=patient_id)
    return _profile_out(view)


@router.patch("/patients/{patient_id}/profile", tags=["patients"])
async def patch_patient_profile(
    patient_id: uuid.UUID, body: schemas.ClinicalProfileIn, session: Session, user: CurrentUser
) -> schemas.ClinicalProfileOut:
    view = await identity.record_patient_profile(
        session, actor=user, patient_id=patient_id, changes=body.model_dump(exclude_unset=True)
    )
    return _profile_out(view)


@router.get("/patients/{patient_id}/profile/history", tags=["patients"])
@writes
async def patient_profile_history(
    patient_id: uuid.UUID, session: Session, user: CurrentUser
) -> list[schemas.ClinicalProfileVersionOut]:
    versions = await identity.patient_profile_history(
        session=session, actor=user, patient_id=patient_id
    )
    return [schemas.ClinicalProfileVersionOut.model_validate(v) for v in versions]


@router.get("/admin/users", tags=["admin"])
async def list_users(
    session: Session,
    admin: CurrentAdmin,
    role: Role | None = None,
    q: Annotated[schemas.SearchText | None, Query()] = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> schemas.UserPage:
    users, total = await identity.list_users(
        session=session, actor=admin, role=role, query=q, active=active, limit=limit, offset=offset
    )
    return schemas.UserPage(
        items=[schemas.UserOut.model_validate(u) for u in users],
        total=total,
        limit=limit,
        offset=offset,
    )


def _handed_over(handover: identity.Handover, clinic: ClinicProfile) -> schemas.UserCreated:
    token = handover.invitation_token
    return schemas.UserCreated.model_validate(
        {
            **schemas.UserOut.model_validate(handover.user).model_dump(),
            "invitation_url": identity.invitation_url(clinic.public_url, token) if token else None,
            "temporary_password": handover.temporary_password,
        }
    )


@router.post("/admin/users", tags=["admin"], status_code=status.HTTP_201_CREATED)
async def create_user(
    body: schemas.UserCreate, session: Session, admin: CurrentAdmin, clinic: Clinic
) -> schemas.UserCreated:
    """A staff account without a password gets an invitation link (or, with
    `credential: "temporary_password"`, a password to change at first sign-in)."""
    profile = body.model_dump(include=set(schemas.ProfileFields.model_fields), exclude_none=True)
    if body.password is None and body.email is not None and body.role is not Role.patient:
        handover = await identity.create_staff(
            session=session,
            actor=admin,
            role=body.role,
            name=body.name,
            email=body.email,
            phone=body.phone,
            credential=body.credential or schemas.Credential.invitation,
            profile=profile,
        )
        return _handed_over(handover, clinic)
    user = await identity.create_user(
        session=session,
        actor=admin,
        role=body.role,
        name=body.name,
        email=body.email,
        password=body.password,
        phone=body.phone,
        profile=profile,
    )
    return schemas.UserCreated.model_validate(user)


@router.post("/admin/users/{user_id}/reset-password", tags=["admin"])
async def reset_password(
    user_id: uuid.UUID,
    session: Session,
    admin: CurrentAdmin,
    clinic: Clinic,
    body: schemas.ResetPassword | None = None,
) -> schemas.UserCreated:
    """The old password and every login end; the answer carries the new link or password."""
    handover = await identity.reset_password(
        session=session,
        actor=admin,
        user_id=user_id,
        credential=(body or schemas.ResetPassword()).credential,
    )
    return _handed_over(handover, clinic)


@router.post("/me/password", tags=["users"], status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: schemas.PasswordChange, session: Session, auth: AuthenticatedDep
) -> None:
    """Works with a temporary password (it is how one is replaced); other logins end."""
    if auth is None:
        raise AppError(ErrorCode.authentication_required, _("Sign in to continue."))
    await identity.change_password(
        session=session,
        actor=auth.user,
        login_id=auth.session_id,
        current_password=body.current_password,
        new_password=body.new_password,
    )


@router.post("/auth/invitation", tags=["auth"])
async def accept_invitation(body: schemas.InvitationAccept, session: Session) -> schemas.UserOut:
    """The invitee sets their password with the link's token; then they sign in."""
    user = await identity.accept_invitation(
        session=session, token=body.token, password=body.password
    )
    return schemas.UserOut.model_validate(user)


@router.get("/admin/users/{user_id}", tags=["admin"])
async def get_user(user_id: uuid.UUID, session: Session, admin: CurrentAdmin) -> schemas.UserOut:
    user = await identity.get_user(session=session, actor=admin, user_id=user_id)
    return schemas.UserOut.model_validate(user)


@router.patch("/admin/users/{user_id}", tags=["admin"])
async def update_user(
    user_id: uuid.UUID,
    body: schemas.UserUpdate,
    session: Session,
    admin: CurrentAdmin,
) -> schemas.UserOut:
    user = await identity.update_user(
        session=session,
        actor=admin,
        user_id=user_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return schemas.UserOut.model_validate(user)


# --- doctors' profiles and the specialty list ----------------------------------------------------


@router.get("/specialties", tags=["doctors"])
async def list_specialties(session: Session) -> list[schemas.SpecialtyOut]:
    """The specialties on offer, each `name` in the reader's language."""
    return [
        schemas.SpecialtyOut.model_validate(s) for s in await identity.specialties(session=session)
    ]


@router.post("/admin/specialties", tags=["admin"], status_code=status.HTTP_201_CREATED)
async def add_specialty(
    body: schemas.SpecialtyIn, session: Session, user: CurrentUser
) -> schemas.SpecialtyOut:
    specialty = await identity.add_specialty(
        session=session, actor=user, name_en=body.name_en, name_sw=body.name_sw
    )
    return schemas.SpecialtyOut.model_validate(specialty)


@router.patch("/admin/specialties/{specialty_id}", tags=["admin"])
async def update_specialty(
    specialty_id: uuid.UUID, body: schemas.SpecialtyUpdate, session: Session, user: CurrentUser
) -> schemas.SpecialtyOut:
    """Rename (either language) or retire (`retired: true`) and bring back."""
    specialty = await identity.update_specialty(
        session=session,
        actor=user,
        specialty_id=specialty_id,
        **body.model_dump(exclude_unset=True),
    )
    return schemas.SpecialtyOut.model_validate(specialty)


@router.patch("/doctors/{doctor_id}/profile", tags=["doctors"])
async def update_doctor_profile(
    doctor_id: uuid.UUID, body: schemas.DoctorProfileIn, session: Session, user: CurrentUser
) -> schemas.UserOut:
    """An admin sends any field, the doctor their own `bio` and `languages`; the meeting
    link is `PUT /api/doctors/{id}/meet-link`."""
    doctor = await identity.update_doctor_profile(
        session=session,
        actor=user,
        doctor_id=doctor_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return schemas.UserOut.model_validate(doctor)


@router.put("/doctors/{doctor_id}/photo", tags=["doctors"])
async def put_doctor_photo(
    doctor_id: uuid.UUID,
    request: Request,
    session: Session,
    user: CurrentUser,
    settings: SettingsDep,
) -> schemas.UserOut:
    """The image's bytes as the body (JPEG, PNG or WebP, up to 512 KB)."""
    data = await read_photo_body(request)
    doctor = await identity.set_doctor_photo(
        session=session, actor=user, doctor_id=doctor_id, data=data, var_dir=settings.var_dir
    )
    return schemas.UserOut.model_validate(doctor)


async def read_photo_body(request: Request) -> bytes:
    """The body, read no further than one byte past the limit (the service refuses it)."""
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > identity.PHOTO_MAX_BYTES:
            break
    return bytes(data)
