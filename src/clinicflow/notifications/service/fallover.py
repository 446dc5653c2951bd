"""An urgent message that keeps failing on one channel is also sent on the person's other
channels.

When: once a delivery of an urgent notification has failed `URGENT_FALLOVER_FAILURES`
times (about 4–7 s of a provider's outage by the backoff), or was refused for good. Where:
every channel the clinic runs and the person has *now* that the notification has no
delivery on yet, each a new delivery due at once. The failing delivery keeps its retries:
the person may get the message twice, never zero times.

An urgent notification is already written to every channel the person had then
(`channel_choice.effective_channels`), so what this adds is what they gained since (a
phone number, an email address, a browser that took push), and, should a clinic switch
a channel on meanwhile, that one.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.notifications.models import Delivery, Notification
from clinicflow.notifications.schemas import Channel, DeliveryStatus, Priority
from clinicflow.notifications.service.channel_choice import allowed_channels, recipient_of
from clinicflow.notifications.templates import ALL_CHANNELS


async def fall_over(session: AsyncSession, delivery_ids: Collection[uuid.UUID]) -> list[Delivery]:
    """Add the deliveries on other channels for the urgent ones among `delivery_ids`;
    the new rows. Safe to call twice: a channel that has a delivery is skipped."""
    if not delivery_ids:
        return []
    rows = await session.execute(
        select(Delivery.channel, Notification)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Delivery.id.in_(delivery_ids), Notification.priority == Priority.urgent)
    )
    added: list[Delivery] = []
    now = clock.now()
    allowed = await allowed_channels(session)
    for _failing, notification in rows.all():
        recipient = await recipient_of(session, notification.user_id)
        if recipient is None:
            continue
        has = set(
            await session.scalars(
                select(Delivery.channel).where(Delivery.notification_id == notification.id)
            )
        )
        for channel in ALL_CHANNELS:
            if channel is Channel.in_app or channel in has or channel not in allowed:
                continue
            if channel not in recipient.addresses:
                continue
            delivery = Delivery(
                notification_id=notification.id,
                channel=channel,
                address=recipient.addresses[channel],
                status=DeliveryStatus.pending,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            session.add(delivery)
            added.append(delivery)
            has.add(channel)
    await session.flush()
    return added
