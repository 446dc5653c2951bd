"""The admin's delivery log: every channel's delivery, filtered, each one's failed
attempts with the provider's answer, "Retry now" for one, and "Retry failed" for every
failed delivery of a filter at once (after a provider's outage)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import audit, clock
from clinicflow.core.audit import Actor
from clinicflow.i18n import gettext as _
from clinicflow.notifications import access, schemas
from clinicflow.notifications.models import Attempt, Delivery, Notification
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
    await audit.record(
        session,
        action="notification.delivery_retry",
        resource_type="notification_delivery",
        resource_id=delivery.id,
        actor=actor,
    )
    notification = await session.get_one(Notification, delivery.notification_id)
    return delivery_out(delivery, notification)


async def retry_failed(
    *, session: AsyncSession, actor: Actor, matching: schemas.RetryFilter
) -> int:
    """Give every failed or given-up delivery that matches a fresh set of attempts, due
    now, in one statement; how many. Once a provider is back, one click instead of one
    "Retry now" per message. A row being sent right now is retried too: its late answer
    no longer matches its attempt number, and a provider with an idempotency key sees
    the resend as the same message."""
    access.require_delivery_admin(actor)
    statuses = (
        [DeliveryStatus(matching.status)]
        if matching.status
        else [DeliveryStatus.failed, DeliveryStatus.gave_up]
    )
    # failed | gave_up -> pending (lifecycle.TRANSITIONS; the WHERE names the statuses)
    query = update(Delivery).where(Delivery.status.in_(statuses))
    if matching.channel is not None:
        query = query.where(Delivery.channel == matching.channel)
    if matching.type is not None:
        of_type = select(Notification.id).where(Notification.kind == matching.type)
        query = query.where(Delivery.notification_id.in_(of_type))
    result = await session.execute(
        query.values(
            status=DeliveryStatus.pending, attempts=0, next_attempt_at=clock.now()
        ).execution_options(synchronize_session=False)
    )
    retried = int(getattr(result, "rowcount", 0) or 0)
    await audit.record(
        session,
        action="notification.deliveries_retry",
        resource_type="notification_delivery",
        actor=actor,
        details={**matching.model_dump(mode="json"), "retried": retried},
    )
    return retried


async def attempts_of(
    *, session: AsyncSession, actor: Actor, delivery_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[schemas.AttemptOut]]:
    """The failed attempts of these deliveries, newest first, with the providers' answers."""
    access.require_delivery_admin(actor)
    found: dict[uuid.UUID, list[schemas.AttemptOut]] = {key: [] for key in delivery_ids}
    if not delivery_ids:
        return found
    rows = await session.scalars(
        select(Attempt)
        .where(Attempt.delivery_id.in_(delivery_ids))
        .order_by(Attempt.created_at.desc(), Attempt.attempt.desc())
    )
    for row in rows:
        found[row.delivery_id].append(schemas.AttemptOut.model_validate(row))
    return found


async def delivery_attempts(
    *, session: AsyncSession, actor: Actor, delivery_id: uuid.UUID
) -> list[schemas.AttemptOut]:
    """One delivery's failed attempts; a delivery that does not exist is `not_found`."""
    delivery = await access.get_delivery_for(session, actor, delivery_id)
    return (await attempts_of(session=session, actor=actor, delivery_ids=[delivery.id]))[
        delivery.id
    ]
