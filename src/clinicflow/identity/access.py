"""Who may see and change which user: decided here and nowhere else."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity.models import Role, User


def can_manage_users(actor: User) -> bool:
    return actor.is_active and actor.role is Role.admin


def require_user_manager(actor: User) -> None:
    if not can_manage_users(actor):
        raise AppError(ErrorCode.forbidden, _("Only an administrator can manage accounts."))


FRONT_DESK = frozenset({Role.receptionist, Role.admin})


def require_front_desk(actor: Actor) -> None:
    """Looking patients up by name or phone is the front desk's job (and an admin's)."""
    if actor.role not in FRONT_DESK:
        raise AppError(ErrorCode.forbidden, _("Only the front desk can book for patients."))


def can_view_user(actor: User, user: User) -> bool:
    return actor.id == user.id or can_manage_users(actor)


async def get_user_for(session: AsyncSession, actor: User, user_id: uuid.UUID) -> User:
    """The user if the actor may see them; the same not-found whether missing or forbidden."""
    user = await session.get(User, user_id)
    if user is None or not can_view_user(actor, user):
        raise not_found()
    return user
