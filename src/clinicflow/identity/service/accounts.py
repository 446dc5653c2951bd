"""Account management: creating accounts, an admin's edits, the admin's list, and the
patient registered by code sign-in or by the front desk.

Unique emails and phones are checked first (a clear 409) and then guaranteed by the
unique index: a lost race gives the same 409 (`_flush_unique`).
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import i18n
from clinicflow.clinic import service as clinic
from clinicflow.core import audit, clock, security
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity import access
from clinicflow.identity.models import DoctorProfile, LoginSession, PatientProfile, User
from clinicflow.identity.schemas import DOCTOR_FIELDS, PATIENT_FIELDS, Language, Role
from clinicflow.identity.service.changes import announce_access_change
from clinicflow.identity.service.sessions import revoke_sessions

SEPARATELY_AUDITED = frozenset({"role", "is_active"})


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def _flush_unique(session: AsyncSession) -> None:
    """Turn a lost race on a unique email or phone into the same error as the pre-check."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        text = str(exc.orig).lower()
        if "email" in text:
            raise AppError(ErrorCode.email_taken, _("That email is already in use.")) from exc
        if "phone" in text:
            raise AppError(
                ErrorCode.phone_taken, _("That phone number is already in use.")
            ) from exc
        raise


async def _check_unique(
    session: AsyncSession, *, email: str | None, phone: str | None, exclude: uuid.UUID | None
) -> None:
    def taken(condition: Any) -> Any:
        query = select(func.count()).select_from(User).where(condition)
        return query.where(User.id != exclude) if exclude else query

    if email and await session.scalar(taken(User.email == email)):
        raise AppError(
            ErrorCode.email_taken, _("That email is already in use."), {"field": "email"}
        )
    if phone and await session.scalar(taken(User.phone == phone)):
        raise AppError(
            ErrorCode.phone_taken, _("That phone number is already in use."), {"field": "phone"}
        )


def _check_login_fields(
    role: Role, *, email: str | None, phone: str | None, has_password: bool
) -> None:
    """An account must keep the way its role signs in (`access`): an email and a password,
    or a phone for the texted code."""
    if access.may_sign_in_with_password(role) and not (email and has_password):
        raise AppError(
            ErrorCode.validation_error,
            _("Staff accounts need an email and a password."),
            {"fields": ["email", "password"]},
        )
    if access.may_sign_in_with_code(role) and not phone:
        raise AppError(
            ErrorCode.validation_error,
            _("Patient accounts need a phone number."),
            {"fields": ["phone"]},
        )


def _apply_profile(user: User, values: dict[str, Any]) -> None:
    """Give the user the profile their role needs and set the fields that belong to it."""
    date_of_birth = values.get("date_of_birth")
    if isinstance(date_of_birth, date) and date_of_birth > clock.now().date():
        raise AppError(
            ErrorCode.validation_error,
            _("Date of birth cannot be in the future."),
            {"field": "date_of_birth"},
        )
    if user.role is Role.patient:
        if user.patient is None:
            user.patient = PatientProfile()
        target: PatientProfile | DoctorProfile = user.patient
        fields: tuple[str, ...] = PATIENT_FIELDS
    elif user.role is Role.doctor:
        if user.doctor is None:
            user.doctor = DoctorProfile()
        target = user.doctor
        fields = DOCTOR_FIELDS
    else:
        return
    for field in fields:
        if field in values and values[field] is not None:
            setattr(target, field, values[field])


async def create_user(
    *,
    session: AsyncSession,
    actor: User | None,
    role: Role,
    name: str,
    email: str | None = None,
    password: str | None = None,
    phone: str | None = None,
    profile: dict[str, Any] | None = None,
) -> User:
    """Create an account; `actor` is None only for the command line and the demo loader."""
    if actor is not None:
        access.require_user_manager(actor)
    email = normalize_email(email) if email else None
    _check_login_fields(role, email=email, phone=phone, has_password=bool(password))
    await _check_unique(session, email=email, phone=phone, exclude=None)
    user = User(
        role=role,
        name=name,
        email=email,
        phone=phone,
        password_hash=await security.hash_password(password) if password else None,
        # Both profiles start known-empty, so reading them never triggers a lazy load.
        patient=None,
        doctor=None,
    )
    _apply_profile(user, profile or {})
    session.add(user)
    await _flush_unique(session)
    await audit.record(
        session,
        action="user.create",
        resource_type="user",
        resource_id=user.id,
        actor=actor,
        details={"role": role.value},
    )
    return user


async def create_patient_from_phone(
    session: AsyncSession,
    *,
    phone: str,
    name: str,
    registered_by: audit.Actor | None = None,
) -> User:
    # A new patient keeps the language they signed up in, for pages and for texts. One the
    # desk registers starts in the clinic's language: the page's is the receptionist's.
    language = (
        i18n.current_language()
        if registered_by is None
        else (await clinic.current(session=session)).default_language
    )
    profile = PatientProfile(preferred_language=Language(language))
    user = User(role=Role.patient, name=name, phone=phone, patient=profile, doctor=None)
    session.add(user)
    await _flush_unique(session)
    await audit.record(
        session,
        action="user.register",
        resource_type="user",
        resource_id=user.id,
        actor=registered_by or user,
        details={"role": Role.patient.value},
    )
    return user


async def update_user(
    *,
    session: AsyncSession,
    actor: User,
    user_id: uuid.UUID,
    changes: dict[str, Any],
) -> User:
    """Apply an admin's edit: name, role, activity, login fields and profile fields."""
    access.require_user_manager(actor)
    user = await access.get_user_for(session, actor, user_id)
    access.require_no_self_lockout(
        actor, user, role=changes.get("role"), is_active=changes.get("is_active")
    )
    email = normalize_email(changes["email"]) if changes.get("email") else None
    await _check_unique(session, email=email, phone=changes.get("phone"), exclude=user.id)

    if changes.get("name"):
        user.name = changes["name"]
    if email:
        user.email = email
    if changes.get("phone"):
        user.phone = changes["phone"]
    if changes.get("password"):
        user.password_hash = await security.hash_password(changes["password"])
        await revoke_sessions(session, LoginSession.user_id == user.id)

    new_role = changes.get("role")
    active = changes.get("is_active")
    if (new_role not in (None, Role.admin)) or active is False:
        await access.require_another_active_admin(session, user)
    if new_role is not None and new_role is not user.role:
        _check_login_fields(
            new_role, email=user.email, phone=user.phone, has_password=bool(user.password_hash)
        )
        await audit.record(
            session,
            action="user.role_change",
            resource_type="user",
            resource_id=user.id,
            actor=actor,
            details={"from": user.role.value, "to": new_role.value},
        )
        user.role = new_role
        announce_access_change(session, user.id)
    _apply_profile(user, changes)

    if active is not None and active != user.is_active:
        user.is_active = active
        if not active:
            await revoke_sessions(session, LoginSession.user_id == user.id)
        announce_access_change(session, user.id)
        await audit.record(
            session,
            action="user.activate" if active else "user.deactivate",
            resource_type="user",
            resource_id=user.id,
            actor=actor,
        )
    # Names of the other fields changed, never their values (a password, say).
    edited = sorted(k for k, v in changes.items() if v is not None and k not in SEPARATELY_AUDITED)
    if edited:
        await audit.record(
            session,
            action="user.update",
            resource_type="user",
            resource_id=user.id,
            actor=actor,
            details={"fields": edited},
        )
    user.updated_at = clock.now()
    await _flush_unique(session)
    await session.refresh(user)
    return user


async def list_users(
    *,
    session: AsyncSession,
    actor: User,
    role: Role | None = None,
    query: str | None = None,
    active: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[User], int]:
    access.require_user_manager(actor)
    conditions: list[Any] = []
    if role is not None:
        conditions.append(User.role == role)
    if active is not None:
        conditions.append(User.is_active.is_(active))
    if query:
        # autoescape: a "%" or "_" typed in the search box is a character, not a wildcard.
        needle = query.strip().lower()
        matches = [
            func.lower(User.name).contains(needle, autoescape=True),
            User.email.contains(needle, autoescape=True),
            User.phone.contains(needle, autoescape=True),
        ]
        # A number typed nationally ("0712 345 678") finds the stored +254712345678, as
        # at the desk (`find_patients`).
        digits = re.sub(r"[^0-9]", "", needle).lstrip("0")
        if len(digits) >= 3:
            matches.append(User.phone.contains(digits, autoescape=True))
        conditions.append(or_(*matches))
    total = await session.scalar(select(func.count()).select_from(User).where(*conditions)) or 0
    users = await session.scalars(
        select(User).where(*conditions).order_by(User.name, User.id).limit(limit).offset(offset)
    )
    return list(users), total


async def get_user(*, session: AsyncSession, actor: User, user_id: uuid.UUID) -> User:
    return await access.get_user_for(session, actor, user_id)


async def set_preferred_language(*, session: AsyncSession, user: User, language: str) -> None:
    """Remember a patient's language choice; it decides the language of their texts."""
    if user.patient is not None and language in i18n.LANGUAGES:
        user.patient.preferred_language = Language(language)
        await session.flush()


async def update_own_contact(
    *, session: AsyncSession, actor: User, changes: dict[str, Any]
) -> User:
    """A patient changes their own name, phone, email or language (`PUT /api/me`).

    A phone or email that belongs to another account is refused (409) and nothing is
    changed; the phone, their way to sign in, can be changed but not removed. The audit
    row names the fields, never their values.
    """
    access.require_own_contact_editor(actor)
    if "phone" in changes and changes["phone"] is None:
        raise AppError(
            ErrorCode.validation_error,
            _("Patient accounts need a phone number."),
            {"field": "phone"},
        )
    email = normalize_email(changes["email"]) if changes.get("email") else None
    await _check_unique(session, email=email, phone=changes.get("phone"), exclude=actor.id)
    edited: list[str] = []
    if changes.get("name") and changes["name"] != actor.name:
        actor.name = changes["name"]
        edited.append("name")
    if changes.get("phone") and changes["phone"] != actor.phone:
        actor.phone = changes["phone"]
        edited.append("phone")
    if "email" in changes and email != actor.email:
        actor.email = email
        edited.append("email")
    language = changes.get("preferred_language")
    patient = actor.patient
    if language is not None and patient is not None and patient.preferred_language != language:
        patient.preferred_language = Language(language)
        edited.append("preferred_language")
    if edited:
        actor.updated_at = clock.now()
        await audit.record(
            session,
            action="user.update_self",
            resource_type="user",
            resource_id=actor.id,
            actor=actor,
            details={"fields": edited},
        )
    await _flush_unique(session)
    return actor
