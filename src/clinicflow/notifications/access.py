"""Who may see which notification and delivery: decided here and nowhere else.

A notification is its recipient's alone; the delivery log (addresses, provider errors)
is for administrators.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import Role
from clinicflow.notifications.models import Delivery, Notification


async def get_notification_for(
    session: AsyncSession, actor: Actor, notification_id: uuid.UUID
) -> Notification:
    """The actor's own notification; the same not-found whether missing or someone else's."""
    notification = await session.get(Notification, notification_id)
    if notification is None or notification.user_id != actor.id:
        raise not_found()
    return notification


def require_delivery_admin(actor: Actor) -> None:
    """The delivery log (addresses, provider errors) and its retries are for administrators."""
    if actor.role is not Role.admin:
        raise AppError(ErrorCode.forbidden, _("Only an administrator can see deliveries."))


async def get_delivery_for(session: AsyncSession, actor: Actor, delivery_id: uuid.UUID) -> Delivery:
    """A delivery, for an administrator; a missing one is not found."""
    require_delivery_admin(actor)
    delivery = await session.get(Delivery, delivery_id)
    if delivery is None:
        raise not_found()
    return delivery
