"""Who may see and change which user, and who may sign in how: decided here and nowhere else."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity import roles
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role


def may_sign_in_with_password(role: Role) -> bool:
    """Staff sign in by email and password; a patient never does, even with a password set."""
    return role in roles.STAFF


def may_sign_in_with_code(role: Role) -> bool:
    """Only patients sign in by a code texted to their phone."""
    return role is Role.patient


def can_manage_users(actor: User) -> bool:
    """Accounts are managed by an active administrator, and nobody else."""
    return actor.is_active and actor.role is Role.admin


def require_user_manager(actor: User) -> None:
    """Creating, editing and listing accounts is an active administrator's job."""
    if not can_manage_users(actor):
        raise AppError(ErrorCode.forbidden, _("Only an administrator can manage accounts."))


def require_no_self_lockout(
    actor: User, user: User, *, role: Role | None, is_active: bool | None
) -> None:
    """An admin may not deactivate themself or change their own role, so the clinic is
    never left without an admin by accident."""
    if user.id == actor.id and (is_active is False or role not in (None, actor.role)):
        raise AppError(
            ErrorCode.cannot_modify_self,
            _("You cannot deactivate your own account or change your own role."),
        )


def require_front_desk(actor: Actor) -> None:
    """Looking patients up by name or phone is the front desk's job (and an admin's)."""
    if actor.role not in roles.FRONT_DESK:
        raise AppError(ErrorCode.forbidden, _("Only the front desk can book for patients."))


def can_view_user(actor: User, user: User) -> bool:
    """A user sees their own account; an administrator sees everyone's."""
    return actor.id == user.id or can_manage_users(actor)


async def get_user_for(session: AsyncSession, actor: User, user_id: uuid.UUID) -> User:
    """The user if the actor may see them; the same not-found whether missing or forbidden."""
    user = await session.get(User, user_id)
    if user is None or not can_view_user(actor, user):
        raise not_found()
    return user
