"""Staff sign-in by email and password."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core import audit, security
from clinicflow.core.errors import ErrorCode, RecordedRefusal
from clinicflow.core.ratelimit import RateLimiter
from clinicflow.i18n import gettext as _
from clinicflow.identity import access
from clinicflow.identity.models import User
from clinicflow.identity.service.accounts import normalize_email
from clinicflow.identity.service.budgets import Budget, give_back, take
from clinicflow.identity.service.sessions import Client, Login, SessionKind, signed_in


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
    await take(limiter, account, address)
    user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
    password_ok = await security.verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok or not access.may_sign_in_with_password(user.role):
        await audit.record(
            session,
            action="auth.login",
            resource_type="user",
            resource_id=user.id if user else None,
            actor=user,
            outcome=audit.Outcome.failure,
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
            details={"method": "password", "reason": "inactive"},
        )
        raise RecordedRefusal(ErrorCode.account_inactive, _("This account is deactivated."))
    # Only failures should count: a success wipes the account's slate and returns the
    # address's attempt.
    await limiter.clear(account.key, account.window_seconds)
    await give_back(limiter, address)
    if user.password_hash and security.password_needs_rehash(user.password_hash):
        user.password_hash = await security.hash_password(password)
    return await signed_in(session, settings, user, kind, client, method="password")
