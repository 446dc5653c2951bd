"""The admin's delivery log: every channel's delivery, filtered, and "Retry now"."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.i18n import gettext as _
from clinicflow.notifications import access, schemas
from clinicflow.notifications.models import Delivery, Notification
from clinicflow.notifications.schemas import Channel, DeliveryStatus, Kind
from clinicflow.notifications.service import lifecycle


def delivery_out(delivery: Delivery, notification: Notification) -> schemas.DeliveryOut:
    return schemas.DeliveryOut(
        id=delivery.id,
        notification_id=notification.id,
        user_id=notification.user_id,
        type=notification.kind,
        channel=delivery.channel,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        provider_id=delivery.provider_id,
        error=delivery.error,
        sent_at=delivery.sent_at,
        created_at=delivery.created_at,
    )


async def deliveries(
    *,
    session: AsyncSession,
    actor: Actor,
    status: DeliveryStatus | None = None,
    channel: Channel | None = None,
    kind: Kind | None = None,
    limit: int = 100,
) -> list[schemas.DeliveryOut]:
    access.require_delivery_admin(actor)
    query = select(Delivery, Notification).join(
        Notification, Notification.id == Delivery.notification_id
    )
    if status is not None:
        query = query.where(Delivery.status == status)
    if channel is not None:
        query = query.where(Delivery.channel == channel)
    if kind is not None:
        query = query.where(Notification.kind == kind)
    rows = await session.execute(
        query.order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit)
    )
    return [delivery_out(delivery, notification) for delivery, notification in rows.all()]


async def retry_now(
    *, session: AsyncSession, actor: Actor, delivery_id: uuid.UUID
) -> schemas.DeliveryOut:
    """Give a delivery that gave up (or is waiting to retry) a fresh set of attempts, due now."""
    delivery = await access.get_delivery_for(session, actor, delivery_id)
    lifecycle.move(
        delivery,
        DeliveryStatus.pending,
        refusal=_("Only a delivery that failed or gave up can be retried."),
    )
    delivery.attempts = 0
    delivery.next_attempt_at = clock.now()
    await session.flush()
    notification = await session.get_one(Notification, delivery.notification_id)
    return delivery_out(delivery, notification)
