"""Starting and ending logins: the web cookie, API tokens and their rotation, and the
check every authenticated request (and every open socket) makes.

A login is a row in `login_sessions`; access tokens name it, so revoking it (sign-out,
refresh-token reuse, deactivation, a new password) ends every token of that login at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as OrmSession

from clinicflow.config import Settings
from clinicflow.core import audit, clock, security
from clinicflow.core.errors import AppError, ErrorCode, RecordedRefusal
from clinicflow.core.held import Held
from clinicflow.i18n import gettext as _
from clinicflow.identity.models import (
    DoctorProfile,
    LoginSession,
    PatientProfile,
    RefreshToken,
    Specialty,
    User,
)

HELD_LOGINS_KEY = "clinicflow.identity.held_logins"
# What a held login is read from: the login row, the user and what is read with the user.
HELD_TABLES = (
    LoginSession.__tablename__,
    User.__tablename__,
    PatientProfile.__tablename__,
    DoctorProfile.__tablename__,
    Specialty.__tablename__,
)
# How long a read may be answered from a login as this process last read it. A change made
# in this process is seen at once; one made by another process (a second server, the
# command line) by its reads after this long, and by its writes at once.
HELD_LOGIN_SECONDS = 1.0


class SessionKind(StrEnum):
    api = "api"
    web = "web"


@dataclass(frozen=True)
class Client:
    """Where a sign-in came from: the address its rate limits count by, and the device a
    login row records. Audit rows take the address from the unit of work instead
    (`audit.bind_address`)."""

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


async def signed_in(
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


async def revoke_sessions(session: AsyncSession, *conditions: Any) -> None:
    await session.execute(
        update(LoginSession)
        .where(LoginSession.revoked_at.is_(None), *conditions)
        .values(revoked_at=clock.now())
    )


async def refresh(*, session: AsyncSession, settings: Settings, refresh_token: str) -> Login:
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
        await revoke_sessions(session, LoginSession.id == login.id)
        await audit.record(
            session,
            action="auth.refresh_reused",
            resource_type="login_session",
            resource_id=login.id,
            actor=user,
            outcome=audit.Outcome.denied,
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
        await revoke_sessions(session, LoginSession.id == session_id)
    if refresh_token:
        owning = select(RefreshToken.session_id).where(
            RefreshToken.token_hash == security.hash_token(refresh_token)
        )
        await revoke_sessions(session, LoginSession.id.in_(owning.scalar_subquery()))


async def authenticate_access_token(
    *, session: AsyncSession, settings: Settings, token: str, held: bool = False
) -> Authenticated | None:
    """The login an access token names, if it still counts. `held`: a read may be
    answered from the process's copy of the login (`_held_login`)."""
    claims = security.decode_access_token(token, secret=settings.secret_key)
    if claims is None:
        return None

    def conditions() -> tuple[Any, ...]:
        return (LoginSession.id == claims.session_id, LoginSession.user_id == claims.user_id)

    if held:
        return await _held_login(session, ("token", claims.session_id, claims.user_id), conditions)
    return await _active_login(session, *conditions())


async def authenticate_cookie(
    *, session: AsyncSession, cookie: str, held: bool = False
) -> Authenticated | None:
    digest = security.hash_token(cookie)

    def conditions() -> tuple[Any, ...]:
        return (LoginSession.cookie_hash == digest, LoginSession.kind == SessionKind.web.value)

    if held:
        return await _held_login(session, ("cookie", digest), conditions)
    return await _active_login(session, *conditions())


async def _held_login(
    session: AsyncSession, key: tuple[Any, ...], conditions: Callable[[], tuple[Any, ...]]
) -> Authenticated | None:
    """A read's login from the process's copy, read from the database when there is none.

    A copy is a detached user and its login's end; each request merges the user into its
    own session without a query, so requests never share an ORM object. Signing out,
    deactivation or any change to the user in this process drops every copy (`core.held`),
    so they take effect here at once; writes never use a copy.
    """
    held: Held[tuple[User, uuid.UUID, datetime]] | None = session.info.get(HELD_LOGINS_KEY)
    if held is None:
        return await _active_login(session, *conditions())

    async def load() -> tuple[User, uuid.UUID, datetime] | None:
        # The statement is built only on a miss: building it was a tenth of a held read.
        rows = await _active_logins_ending(session, *conditions())
        if not rows:
            return None
        login, ends = rows[0]
        return detached_copy(login.user), login.session_id, ends

    found = await held.read(key, load)
    if found is None or found[2] <= clock.now():
        return None
    user, login_id, _ends = found
    return Authenticated(user=await session.merge(user, load=False), session_id=login_id)


def detached_copy(user: User) -> User:
    """A copy of `user` (profile and specialty with it) that belongs to no session, so
    nothing a request does to its own (a rollback expiring it, say) reaches the copy that
    the process holds."""
    scratch = OrmSession()
    copy = scratch.merge(user, load=False)
    scratch.expunge_all()
    return copy


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
    return [login for login, _ends in await _active_logins_ending(session, *conditions)]


async def _active_logins_ending(
    session: AsyncSession, *conditions: Any
) -> list[tuple[Authenticated, datetime]]:
    """A login counts only while it is unrevoked, unexpired and its user is active; each
    with the moment it ends."""
    rows = await session.execute(
        select(User, LoginSession.id, LoginSession.expires_at)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            *conditions,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > clock.now(),
            User.is_active.is_(True),
        )
    )
    return [(Authenticated(user=user, session_id=login_id), ends) for user, login_id, ends in rows]
