"""What needs an administrator's attention in the notifications: deliveries that failed
and are waiting to be retried, or gave up, in a recent span of time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.notifications import access
from clinicflow.notifications.models import Delivery
from clinicflow.notifications.schemas import DeliveryStatus


@dataclass(frozen=True)
class FailedDeliveries:
    """Deliveries made since a moment that have not got through: `failed` will be tried
    again by the dispatcher, `gave_up` will not unless someone presses "Retry now"."""

    failed: int
    gave_up: int

    @property
    def total(self) -> int:
        return self.failed + self.gave_up


async def failed_deliveries(
    *, session: AsyncSession, actor: Actor, since: datetime
) -> FailedDeliveries:
    """How many deliveries created since `since` are failing or gave up, for the delivery
    log's readers (`access.require_delivery_admin`). One grouped count over the
    (status, next attempt) index's leading column."""
    access.require_delivery_admin(actor)
    counts = {
        status: count
        for status, count in await session.execute(
            select(Delivery.status, func.count())
            .where(
                Delivery.status.in_((DeliveryStatus.failed, DeliveryStatus.gave_up)),
                Delivery.created_at >= since,
            )
            .group_by(Delivery.status)
        )
    }
    return FailedDeliveries(
        failed=counts.get(DeliveryStatus.failed, 0), gave_up=counts.get(DeliveryStatus.gave_up, 0)
    )
