"""Patient sign-in by a code texted to their phone.

The code is stored only as an HMAC and goes out once the transaction commits, by whatever
`CodeSender` the runtime put into the session: identity declares what it needs and
notifications provides it (an SMS through the process's sender), so identity never imports
notifications. Nobody is texted a code that was not stored, and the code itself is never
stored anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import i18n
from clinicflow.config import Settings
from clinicflow.core import audit, clock, security
from clinicflow.core.errors import AppError, ErrorCode, RecordedRefusal
from clinicflow.core.ratelimit import RateLimiter
from clinicflow.db import after_commit
from clinicflow.i18n import gettext as _
from clinicflow.identity import access
from clinicflow.identity.models import OtpCode, PatientProfile, User
from clinicflow.identity.service.accounts import create_patient_from_phone
from clinicflow.identity.service.budgets import Budget, give_back, take
from clinicflow.identity.service.sessions import Client, Login, SessionKind, signed_in

CODE_SENDER_KEY = "clinicflow.identity.code_sender"


class CodeSender(Protocol):
    """Texts a sign-in code to a phone, at once (it is never queued or stored)."""

    async def send_code(self, *, phone: str, text: str) -> None: ...


def code_sender_info(sender: CodeSender) -> dict[str, Any]:
    """What the runtime puts into every session's `info`, so `request_otp` reaches the
    sender with neither a global nor an import of the domain that provides it."""
    return {CODE_SENDER_KEY: sender}


def _text_after_commit(session: AsyncSession, *, phone: str, text: str) -> None:
    sender: CodeSender = session.info[CODE_SENDER_KEY]

    async def deliver() -> None:
        await sender.send_code(phone=phone, text=text)

    after_commit(session, deliver)


@dataclass(frozen=True)
class OtpSent:
    expires_in_seconds: int
    resend_after_seconds: int


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
    await take(limiter, *budgets)

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
    _text_after_commit(session, phone=phone, text=body)
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
    await take(limiter, address)
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
        await _count_wrong_code(session, settings, otp)
    await give_back(limiter, address)

    user = (await session.execute(select(User).where(User.phone == phone))).scalar_one_or_none()
    if user is None and not name:
        raise AppError(
            ErrorCode.name_required,
            _("Welcome! Tell us your name to create your account."),
            {"field": "name"},
        )
    if user is not None and not access.may_sign_in_with_code(user.role):
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
        user = await create_patient_from_phone(session, phone=phone, name=name or "")
    return await signed_in(session, settings, user, kind, client, method="otp")


async def _count_wrong_code(session: AsyncSession, settings: Settings, otp: OtpCode) -> None:
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
