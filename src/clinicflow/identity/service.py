"""The rules of identity: who can log in, how, and who manages accounts.

Every verb takes a session and plain values, flushes and never commits; the caller's
boundary (a request, a command) owns the transaction.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import i18n
from clinicflow.config import Settings
from clinicflow.core import audit, clock, security
from clinicflow.core.errors import AppError, ErrorCode, RateLimited, RecordedRefusal, not_found
from clinicflow.core.ratelimit import RateLimiter
from clinicflow.i18n import gettext as _
from clinicflow.identity import access
from clinicflow.identity.models import (
    DoctorProfile,
    Language,
    LoginSession,
    OtpCode,
    PatientProfile,
    RefreshToken,
    Role,
    User,
)
from clinicflow.identity.schemas import DOCTOR_FIELDS, PATIENT_FIELDS
from clinicflow.notifications import service as notifications

STAFF_ROLES = frozenset({Role.doctor, Role.receptionist, Role.admin})
SEPARATELY_AUDITED = frozenset({"role", "is_active"})


class SessionKind(StrEnum):
    api = "api"
    web = "web"


@dataclass(frozen=True)
class Client:
    """Where a request came from, for rate limits and the audit trail."""

    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class Login:
    """A started login: tokens for an API client, or a cookie value for the browser."""

    user: User
    session_id: uuid.UUID
    access_token: str | None = None
    refresh_token: str | None = None
    cookie: str | None = None


@dataclass(frozen=True)
class Authenticated:
    user: User
    session_id: uuid.UUID


@dataclass(frozen=True)
class OtpSent:
    expires_in_seconds: int
    resend_after_seconds: int


def normalize_email(email: str) -> str:
    return email.strip().lower()


# --- starting and ending logins -------------------------------------------------------------


async def _start_login(
    session: AsyncSession, settings: Settings, user: User, kind: SessionKind, client: Client
) -> Login:
    now = clock.now()
    days = settings.web_session_days if kind is SessionKind.web else settings.refresh_token_days
    login = LoginSession(
        id=uuid.uuid4(),
        user_id=user.id,
        kind=kind.value,
        created_at=now,
        expires_at=now + timedelta(days=days),
        ip=client.ip,
        user_agent=(client.user_agent or "")[:255] or None,
    )
    cookie = security.new_opaque_token() if kind is SessionKind.web else None
    login.cookie_hash = security.hash_token(cookie) if cookie else None
    session.add(login)
    await session.flush()
    if cookie:
        return Login(user=user, session_id=login.id, cookie=cookie)
    refresh = await _issue_refresh_token(session, settings, login.id)
    return Login(
        user=user,
        session_id=login.id,
        access_token=_access_token(settings, user, login.id),
        refresh_token=refresh,
    )


async def _signed_in(
    session: AsyncSession,
    settings: Settings,
    user: User,
    kind: SessionKind,
    client: Client,
    *,
    method: str,
) -> Login:
    """Audit a successful sign-in and start its login."""
    await audit.record(
        session,
        action="auth.login",
        resource_type="user",
        resource_id=user.id,
        actor=user,
        ip=client.ip,
        details={"method": method},
    )
    return await _start_login(session, settings, user, kind, client)


def _access_token(settings: Settings, user: User, session_id: uuid.UUID) -> str:
    return security.encode_access_token(
        secret=settings.secret_key,
        user_id=user.id,
        session_id=session_id,
        role=user.role.value,
        minutes=settings.access_token_minutes,
    )


async def _issue_refresh_token(
    session: AsyncSession, settings: Settings, session_id: uuid.UUID
) -> str:
    token = security.new_opaque_token()
    now = clock.now()
    session.add(
        RefreshToken(
            session_id=session_id,
            token_hash=security.hash_token(token),
            created_at=now,
            expires_at=now + timedelta(days=settings.refresh_token_days),
        )
    )
    await session.flush()
    return token


async def _revoke_sessions(session: AsyncSession, *conditions: Any) -> None:
    await session.execute(
        update(LoginSession)
        .where(LoginSession.revoked_at.is_(None), *conditions)
        .values(revoked_at=clock.now())
    )


async def refresh(
    *, session: AsyncSession, settings: Settings, refresh_token: str, client: Client
) -> Login:
    """Swap a refresh token for a new pair; a token seen twice ends its whole login.

    Rotation means a stolen token can be used once at most: when the thief or the owner
    presents the already-used token, the login is revoked and both are logged out.
    """
    row = (
        await session.execute(
            select(RefreshToken, LoginSession, User)
            .join(LoginSession, RefreshToken.session_id == LoginSession.id)
            .join(User, LoginSession.user_id == User.id)
            .where(RefreshToken.token_hash == security.hash_token(refresh_token))
        )
    ).one_or_none()
    if row is None:
        raise AppError(ErrorCode.invalid_token, _("Refresh token is not valid."))
    token, login, user = row
    now = clock.now()
    if login.revoked_at is not None or token.expires_at <= now or login.expires_at <= now:
        raise AppError(ErrorCode.invalid_token, _("Refresh token is not valid."))
    if not user.is_active:
        raise AppError(ErrorCode.account_inactive, _("This account is deactivated."))
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await _revoke_sessions(session, LoginSession.id == login.id)
        await audit.record(
            session,
            action="auth.refresh_reused",
            resource_type="login_session",
            resource_id=login.id,
            actor=user,
            outcome=audit.Outcome.denied,
            ip=client.ip,
        )
        raise RecordedRefusal(
            ErrorCode.token_reused,
            _("This refresh token was already used; the login has been ended for safety."),
        )
    new_refresh = await _issue_refresh_token(session, settings, login.id)
    return Login(
        user=user,
        session_id=login.id,
        access_token=_access_token(settings, user, login.id),
        refresh_token=new_refresh,
    )


async def logout(
    *, session: AsyncSession, session_id: uuid.UUID | None = None, refresh_token: str | None = None
) -> None:
    if session_id is not None:
        await _revoke_sessions(session, LoginSession.id == session_id)
    if refresh_token:
        owning = select(RefreshToken.session_id).where(
            RefreshToken.token_hash == security.hash_token(refresh_token)
        )
        await _revoke_sessions(session, LoginSession.id.in_(owning.scalar_subquery()))


async def authenticate_access_token(
    *, session: AsyncSession, settings: Settings, token: str
) -> Authenticated | None:
    claims = security.decode_access_token(token, secret=settings.secret_key)
    if claims is None:
        return None
    return await _active_login(
        session, LoginSession.id == claims.session_id, LoginSession.user_id == claims.user_id
    )


async def authenticate_cookie(*, session: AsyncSession, cookie: str) -> Authenticated | None:
    return await _active_login(
        session,
        LoginSession.cookie_hash == security.hash_token(cookie),
        LoginSession.kind == SessionKind.web.value,
    )


async def authenticate_logins(
    *, session: AsyncSession, login_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Authenticated]:
    """The logins long-lived connections (sockets) were opened with, those that still
    count, in one query for them all (the hub checks every open socket at once).

    Checked again while the socket is open, so signing out or deactivating the user stops
    an open socket too, while a short-lived access token may expire under it without
    closing it. Logins that no longer count are left out.
    """
    if not login_ids:
        return {}
    return {
        login.session_id: login
        for login in await _active_logins(session, LoginSession.id.in_(login_ids))
    }


async def _active_login(session: AsyncSession, *conditions: Any) -> Authenticated | None:
    logins = await _active_logins(session, *conditions)
    return logins[0] if logins else None


async def _active_logins(session: AsyncSession, *conditions: Any) -> list[Authenticated]:
    """A login counts only while it is unrevoked, unexpired and its user is active."""
    rows = await session.execute(
        select(User, LoginSession.id)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            *conditions,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > clock.now(),
            User.is_active.is_(True),
        )
    )
    return [Authenticated(user=user, session_id=login_id) for user, login_id in rows]


# --- password login --------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """At most `limit` counted events per `window_seconds` for one key."""

    key: str
    limit: int
    window_seconds: int


async def _take(limiter: RateLimiter, *budgets: Budget) -> None:
    """Count this attempt against every budget, then refuse if one is overspent.

    Counting before checking (an atomic increment) is what stops many concurrent attempts
    from all reading "under the limit" and slipping through together.
    """
    for budget in budgets:
        hits, retry_after = await limiter.hit(budget.key, budget.window_seconds)
        if hits > budget.limit:
            raise RateLimited(retry_after)


async def _give_back(limiter: RateLimiter, budget: Budget) -> None:
    await limiter.release(budget.key, budget.window_seconds)


async def login_with_password(
    *,
    session: AsyncSession,
    settings: Settings,
    limiter: RateLimiter,
    email: str,
    password: str,
    client: Client,
    kind: SessionKind = SessionKind.api,
) -> Login:
    email = normalize_email(email)
    window = settings.login_window_seconds
    account = Budget(f"login:account:{email}", settings.login_max_failures_per_account, window)
    address = Budget(f"login:ip:{client.ip}", settings.login_max_failures_per_ip, window)
    await _take(limiter, account, address)
    user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
    password_ok = await security.verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok or user.role not in STAFF_ROLES:
        await audit.record(
            session,
            action="auth.login",
            resource_type="user",
            resource_id=user.id if user else None,
            actor=user,
            outcome=audit.Outcome.failure,
            ip=client.ip,
            details={"method": "password", "email": email},
        )
        raise RecordedRefusal(ErrorCode.invalid_credentials, _("Email or password is incorrect."))
    if not user.is_active:
        await audit.record(
            session,
            action="auth.login",
            resource_type="user",
            resource_id=user.id,
            actor=user,
            outcome=audit.Outcome.denied,
            ip=client.ip,
            details={"method": "password", "reason": "inactive"},
        )
        raise RecordedRefusal(ErrorCode.account_inactive, _("This account is deactivated."))
    # Only failures should count: a success wipes the account's slate and returns the
    # address's attempt.
    await limiter.clear(account.key, account.window_seconds)
    await _give_back(limiter, address)
    if user.password_hash and security.password_needs_rehash(user.password_hash):
        user.password_hash = await security.hash_password(password)
    return await _signed_in(session, settings, user, kind, client, method="password")


# --- phone code login ------------------------------------------------------------------------


async def request_otp(
    *,
    session: AsyncSession,
    settings: Settings,
    limiter: RateLimiter,
    phone: str,
    client: Client,
) -> OtpSent:
    """Text a fresh 6-digit code; any earlier code for the phone stops working."""
    hourly = settings.otp_requests_per_phone_per_hour
    budgets = (
        Budget(f"otp:cooldown:{phone}", 1, settings.otp_min_seconds_between_requests),
        Budget(f"otp:phone:{phone}", hourly, 3600),
        Budget(f"otp:ip:{client.ip}", hourly * 4, 3600),
    )
    await _take(limiter, *budgets)

    now = clock.now()
    await session.execute(
        update(OtpCode)
        .where(OtpCode.phone == phone, OtpCode.consumed_at.is_(None))
        .values(consumed_at=now)
    )
    code = security.new_numeric_code()
    session.add(
        OtpCode(
            phone=phone,
            code_hash=security.keyed_hash(settings.secret_key, phone, code),
            created_at=now,
            expires_at=now + timedelta(minutes=settings.otp_valid_minutes),
        )
    )
    await session.flush()
    language = await _language_for_phone(session, phone)
    body = i18n.gettext_in(
        language, "Your clinicflow code is {code}. It expires in {minutes} minutes."
    ).format(code=code, minutes=settings.otp_valid_minutes)
    await notifications.send(session, to=phone, channel=notifications.Channel.sms, body=body)
    return OtpSent(
        expires_in_seconds=settings.otp_valid_minutes * 60,
        resend_after_seconds=settings.otp_min_seconds_between_requests,
    )


async def _language_for_phone(session: AsyncSession, phone: str) -> str:
    language = await session.scalar(
        select(PatientProfile.preferred_language)
        .join(User, User.id == PatientProfile.user_id)
        .where(User.phone == phone)
    )
    return language.value if language else i18n.current_language()


async def verify_otp(
    *,
    session: AsyncSession,
    settings: Settings,
    limiter: RateLimiter,
    phone: str,
    code: str,
    name: str | None,
    client: Client,
    kind: SessionKind = SessionKind.api,
) -> Login:
    address = Budget(
        f"otp-verify:ip:{client.ip}",
        settings.login_max_failures_per_ip,
        settings.login_window_seconds,
    )
    await _take(limiter, address)
    otp = (
        await session.execute(
            select(OtpCode)
            .where(OtpCode.phone == phone, OtpCode.consumed_at.is_(None))
            .order_by(OtpCode.created_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if otp is None:
        raise AppError(
            ErrorCode.invalid_code, _("There is no active code for this phone. Request a new one.")
        )
    if otp.expires_at <= clock.now():
        raise AppError(ErrorCode.code_expired, _("This code has expired. Request a new one."))
    if otp.attempts >= settings.otp_max_attempts:
        raise AppError(ErrorCode.too_many_attempts, _("Too many wrong codes. Request a new one."))
    if not security.constant_time_equal(
        otp.code_hash, security.keyed_hash(settings.secret_key, phone, code)
    ):
        await _count_wrong_code(session, settings, otp, client)
    await _give_back(limiter, address)

    user = (await session.execute(select(User).where(User.phone == phone))).scalar_one_or_none()
    if user is None and not name:
        raise AppError(
            ErrorCode.name_required,
            _("Welcome! Tell us your name to create your account."),
            {"field": "name"},
        )
    if user is not None and user.role is not Role.patient:
        raise AppError(
            ErrorCode.wrong_login_method, _("Staff accounts sign in with email and password.")
        )
    if user is not None and not user.is_active:
        raise AppError(ErrorCode.account_inactive, _("This account is deactivated."))

    consumed = await session.execute(
        update(OtpCode)
        .where(OtpCode.id == otp.id, OtpCode.consumed_at.is_(None))
        .values(consumed_at=clock.now())
    )
    if consumed.rowcount != 1:  # type: ignore[attr-defined]
        raise AppError(ErrorCode.invalid_code, _("This code was already used. Request a new one."))
    if user is None:
        user = await _create_patient_from_phone(
            session, phone=phone, name=name or "", client=client
        )
    return await _signed_in(session, settings, user, kind, client, method="otp")


async def _count_wrong_code(
    session: AsyncSession,
    settings: Settings,
    otp: OtpCode,
    client: Client,
) -> None:
    """Count a wrong guess in the database itself, so concurrent guesses cannot exceed the cap."""
    attempts = await session.scalar(
        update(OtpCode)
        .where(OtpCode.id == otp.id, OtpCode.attempts < settings.otp_max_attempts)
        .values(attempts=OtpCode.attempts + 1)
        .returning(OtpCode.attempts)
    )
    await audit.record(
        session,
        action="auth.login",
        resource_type="phone",
        resource_id=otp.phone,
        outcome=audit.Outcome.failure,
        ip=client.ip,
        details={"method": "otp"},
    )
    left = settings.otp_max_attempts - (
        attempts if attempts is not None else settings.otp_max_attempts
    )
    if left <= 0:
        raise RecordedRefusal(
            ErrorCode.too_many_attempts, _("Too many wrong codes. Request a new one.")
        )
    raise RecordedRefusal(
        ErrorCode.invalid_code, _("That code is not right."), {"attempts_left": left}
    )


async def _create_patient_from_phone(
    session: AsyncSession,
    *,
    phone: str,
    name: str,
    client: Client,
    registered_by: audit.Actor | None = None,
) -> User:
    # A new patient keeps the language they signed up in, for pages and for texts.
    profile = PatientProfile(preferred_language=Language(i18n.current_language()))
    user = User(role=Role.patient, name=name, phone=phone, patient=profile, doctor=None)
    session.add(user)
    await _flush_unique(session)
    await audit.record(
        session,
        action="user.register",
        resource_type="user",
        resource_id=user.id,
        actor=registered_by or user,
        ip=client.ip,
        details={"role": Role.patient.value},
    )
    return user


# --- account management ----------------------------------------------------------------------


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
    if role in STAFF_ROLES and not (email and has_password):
        raise AppError(
            ErrorCode.validation_error,
            _("Staff accounts need an email and a password."),
            {"fields": ["email", "password"]},
        )
    if role is Role.patient and not phone:
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
    client: Client | None = None,
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
        ip=client.ip if client else None,
        details={"role": role.value},
    )
    return user


async def update_user(
    *,
    session: AsyncSession,
    actor: User,
    user_id: uuid.UUID,
    changes: dict[str, Any],
    client: Client,
) -> User:
    """Apply an admin's edit: name, role, activity, login fields and profile fields."""
    access.require_user_manager(actor)
    user = await access.get_user_for(session, actor, user_id)
    if user.id == actor.id and (
        changes.get("is_active") is False or changes.get("role") not in (None, actor.role)
    ):
        raise AppError(
            ErrorCode.cannot_modify_self,
            _("You cannot deactivate your own account or change your own role."),
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
        await _revoke_sessions(session, LoginSession.user_id == user.id)

    new_role = changes.get("role")
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
            ip=client.ip,
            details={"from": user.role.value, "to": new_role.value},
        )
        user.role = new_role
    _apply_profile(user, changes)

    active = changes.get("is_active")
    if active is not None and active != user.is_active:
        user.is_active = active
        if not active:
            await _revoke_sessions(session, LoginSession.user_id == user.id)
        await audit.record(
            session,
            action="user.activate" if active else "user.deactivate",
            resource_type="user",
            resource_id=user.id,
            actor=actor,
            ip=client.ip,
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
            ip=client.ip,
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
        conditions.append(
            or_(
                func.lower(User.name).contains(needle, autoescape=True),
                User.email.contains(needle, autoescape=True),
                User.phone.contains(needle, autoescape=True),
            )
        )
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


async def count_users(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(User)) or 0


async def get_doctor(session: AsyncSession, doctor_id: uuid.UUID) -> User:
    """An active doctor with their profile; the same not-found for anyone else."""
    user = await session.get(User, doctor_id)
    if user is None or user.role is not Role.doctor or not user.is_active or user.doctor is None:
        raise not_found()
    return user


async def get_patient(session: AsyncSession, patient_id: uuid.UUID) -> User:
    user = await session.get(User, patient_id)
    if user is None or user.role is not Role.patient or not user.is_active:
        raise not_found()
    return user


async def search_doctors(session: AsyncSession, query: str | None = None) -> list[User]:
    """Active doctors, by name or specialty: the public directory patients book from."""
    statement = (
        select(User)
        .join(DoctorProfile, DoctorProfile.user_id == User.id)
        .where(User.role == Role.doctor, User.is_active.is_(True))
        .order_by(User.name)
    )
    if query:
        needle = query.strip().lower()
        statement = statement.where(
            or_(
                func.lower(User.name).contains(needle, autoescape=True),
                func.lower(DoctorProfile.specialty).contains(needle, autoescape=True),
            )
        )
    return list((await session.scalars(statement)).unique())


async def names(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Display names for a set of users, in one query."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    return {row[0]: row[1] for row in rows}


async def users(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> list[User]:
    """Several users in one query."""
    wanted = set(user_ids)
    if not wanted:
        return []
    return list((await session.scalars(select(User).where(User.id.in_(wanted)))).unique())


async def find_or_register_patient(
    *, session: AsyncSession, actor: audit.Actor, phone: str, name: str, client: Client
) -> User:
    """The patient with this phone number, or a new one the front desk registers for a
    walk-in (they sign in later with a code sent to that phone)."""
    access.require_front_desk(actor)
    user = await session.scalar(select(User).where(User.phone == phone))
    if user is None:
        return await _create_patient_from_phone(
            session, phone=phone, name=name, client=client, registered_by=actor
        )
    if user.role is not Role.patient or not user.is_active:
        raise AppError(
            ErrorCode.phone_taken,
            _("That phone number belongs to an account that is not a patient's."),
        )
    return user


async def is_active(session: AsyncSession, user_id: uuid.UUID) -> bool:
    return bool(await session.scalar(select(User.is_active).where(User.id == user_id)))


async def find_patients(
    *, session: AsyncSession, actor: audit.Actor, query: str, limit: int = 20
) -> list[User]:
    """Active patients whose name or phone matches: the front desk's look-up.

    Digits match anywhere in the phone with a leading 0 dropped, so "0711 000 001" finds
    +254711000001.
    """
    access.require_front_desk(actor)
    text = query.strip()
    if not text:
        return []
    conditions = [func.lower(User.name).contains(text.lower(), autoescape=True)]
    digits = re.sub(r"\D", "", text).lstrip("0")
    if len(digits) >= 3:
        conditions.append(User.phone.contains(digits, autoescape=True))
    found = await session.scalars(
        select(User)
        .where(User.role == Role.patient, User.is_active.is_(True), or_(*conditions))
        .order_by(User.name, User.id)
        .limit(limit)
    )
    return list(found.unique())
