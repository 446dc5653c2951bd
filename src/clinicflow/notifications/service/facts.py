"""Read-only figures about deliveries for the analytics domain, aggregated in SQL: per
channel, the deliveries created in one window by how they stand (sent, failed, pending).
A delivery that failed and gave up counts as failed; a retry in progress as pending."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.notifications.models import Delivery
from clinicflow.notifications.schemas import DeliveryStatus

OUTCOME = {
    DeliveryStatus.sent: "sent",
    DeliveryStatus.failed: "failed",
    DeliveryStatus.gave_up: "failed",
    DeliveryStatus.pending: "pending",
}


async def delivery_facts(
    *, session: AsyncSession, start: datetime, end: datetime
) -> dict[str, dict[str, int]]:
    """`{channel: {"sent": n, "failed": n, "pending": n}}` for deliveries created in
    `[start, end)`; channels with none are absent."""
    rows = await session.execute(
        select(Delivery.channel, Delivery.status, func.count())
        .where(Delivery.created_at >= start, Delivery.created_at < end)
        .group_by(Delivery.channel, Delivery.status)
    )
    result: dict[str, dict[str, int]] = {}
    for channel, status, count in rows:
        outcome = result.setdefault(str(channel), {"sent": 0, "failed": 0, "pending": 0})
        outcome[OUTCOME[DeliveryStatus(status)]] += int(count)
    return result
