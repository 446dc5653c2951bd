"""Handing a password to staff: the admin's creation and reset with a one-time invitation
link or a temporary password, the invitee setting theirs, and a user changing their own.

A temporary password is shown once to the admin and never stored in the clear; it marks
the account `must_change_password`, so it opens nothing but the change-password page. An
invitation stores only its token's SHA-256, expires after `INVITATION_VALID`, and is
claimed with a conditional update, so two uses of one link cannot both succeed.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import audit, clock, security
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity import access
from clinicflow.identity.models import Invitation, LoginSession, User
from clinicflow.identity.schemas import Credential, Role
from clinicflow.identity.service.accounts import create_user
from clinicflow.identity.service.sessions import revoke_sessions

INVITATION_VALID = timedelta(days=3)
# Long enough not to be guessed, short enough to read out over the phone.
TEMPORARY_PASSWORD_BYTES = 9


@dataclass(frozen=True)
class Handover:
    """What the admin sees once: the invitation token (the link is built from the clinic's
    public address by the caller) or the temporary password."""

    user: User
    invitation_token: str | None = None
    temporary_password: str | None = None


def invitation_url(public_url: str, token: str) -> str:
    """The link the invitee opens (`/invite/{token}`), on the clinic's public address."""
    return f"{public_url.rstrip('/')}/invite/{token}"


async def _unknown_password() -> str:
    """The hash of a password nobody is shown: an invited account has no usable password
    until the invitee sets one, yet keeps the staff rule "email and password"."""
    return await security.hash_password(secrets.token_urlsafe(32))


async def _hand_over(
    session: AsyncSession, actor: User | None, user: User, credential: Credential
) -> Handover:
    """Replace the user's password by the chosen credential; earlier links stop working."""
    now = clock.now()
    await session.execute(
        update(Invitation)
        .where(Invitation.user_id == user.id, Invitation.used_at.is_(None))
        .values(used_at=now)
    )
    if credential is Credential.temporary_password:
        password = secrets.token_urlsafe(TEMPORARY_PASSWORD_BYTES)
        user.password_hash = await security.hash_password(password)
        user.must_change_password = True
        await session.flush()
        return Handover(user=user, temporary_password=password)
    token = security.new_opaque_token()
    user.password_hash = await _unknown_password()
    user.must_change_password = False
    session.add(
        Invitation(
            user_id=user.id,
            token_hash=security.hash_token(token),
            created_by_id=actor.id if actor else None,
            created_at=now,
            expires_at=now + INVITATION_VALID,
        )
    )
    await session.flush()
    return Handover(user=user, invitation_token=token)


async def create_staff(
    *,
    session: AsyncSession,
    actor: User,
    role: Role,
    name: str,
    email: str,
    credential: Credential,
    phone: str | None = None,
    profile: dict[str, Any] | None = None,
) -> Handover:
    """Create a doctor, receptionist or admin and hand them a way to set their password."""
    access.require_user_manager(actor)
    if not access.may_sign_in_with_password(role):
        raise AppError(
            ErrorCode.validation_error,
            _("Invite staff only: patients register with their phone."),
            {"field": "role"},
        )
    user = await create_user(
        session=session,
        actor=actor,
        role=role,
        name=name,
        email=email,
        password=secrets.token_urlsafe(32),
        phone=phone,
        profile=profile,
    )
    handover = await _hand_over(session, actor, user, credential)
    await audit.record(
        session,
        action="user.credential_issued",
        resource_type="user",
        resource_id=user.id,
        actor=actor,
        details={"credential": credential.value},
    )
    return handover


async def reset_password(
    *, session: AsyncSession, actor: User, user_id: uuid.UUID, credential: Credential
) -> Handover:
    """The admin replaces a staff member's password: the old one and every login end now."""
    access.require_user_manager(actor)
    user = await access.get_user_for(session, actor, user_id)
    access.require_staff_login(user)
    handover = await _hand_over(session, actor, user, credential)
    await revoke_sessions(session, LoginSession.user_id == user.id)
    user.updated_at = clock.now()
    await audit.record(
        session,
        action="user.password_reset",
        resource_type="user",
        resource_id=user.id,
        actor=actor,
        details={"credential": credential.value},
    )
    return handover


async def invited_user(*, session: AsyncSession, token: str) -> User | None:
    """The active user an unused, unexpired invitation is for (the page greets them)."""
    return await session.scalar(
        select(User)
        .join(Invitation, Invitation.user_id == User.id)
        .where(
            Invitation.token_hash == security.hash_token(token),
            Invitation.used_at.is_(None),
            Invitation.expires_at > clock.now(),
            User.is_active.is_(True),
        )
    )


def _invalid_invitation() -> AppError:
    return AppError(
        ErrorCode.invalid_invitation,
        _(
            "This invitation link has expired or was already used. Ask an administrator for a new one."
        ),
    )


async def accept_invitation(*, session: AsyncSession, token: str, password: str) -> User:
    """The invitee sets their password; the link works once and only before it expires."""
    user = await invited_user(session=session, token=token)
    if user is None:
        raise _invalid_invitation()
    claimed = await session.execute(
        update(Invitation)
        .where(
            Invitation.token_hash == security.hash_token(token),
            Invitation.used_at.is_(None),
        )
        .values(used_at=clock.now())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise _invalid_invitation()
    user.password_hash = await security.hash_password(password)
    user.must_change_password = False
    user.updated_at = clock.now()
    await audit.record(
        session,
        action="user.invitation_accept",
        resource_type="user",
        resource_id=user.id,
        actor=user,
    )
    await session.flush()
    return user


async def change_password(
    *,
    session: AsyncSession,
    actor: User,
    login_id: uuid.UUID,
    current_password: str,
    new_password: str,
) -> User:
    """A staff member replaces their password (a temporary one first of all).

    The current password must be right and the new one different; every other login of
    the user ends, the one making the change stays.
    """
    access.require_staff_login(actor)
    if not await security.verify_password(actor.password_hash, current_password):
        raise AppError(
            ErrorCode.wrong_password,
            _("Your current password is not right."),
            {"field": "current_password"},
        )
    if current_password == new_password:
        raise AppError(
            ErrorCode.validation_error,
            _("Choose a new password, different from the current one."),
            {"field": "new_password"},
        )
    actor.password_hash = await security.hash_password(new_password)
    actor.must_change_password = False
    actor.updated_at = clock.now()
    await revoke_sessions(session, LoginSession.user_id == actor.id, LoginSession.id != login_id)
    await audit.record(
        session,
        action="user.password_change",
        resource_type="user",
        resource_id=actor.id,
        actor=actor,
    )
    await session.flush()
    return actor
