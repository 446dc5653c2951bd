"""The bell: the in-app notifications a person holds, their unread count, and marking
them read, announced on `user:<id>` so every open tab of theirs follows."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import realtime
from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.notifications import access
from clinicflow.notifications.models import Delivery, Notification
from clinicflow.notifications.schemas import Channel

LIST_LIMIT = 50


def user_topic(user_id: uuid.UUID) -> str:
    return f"user:{user_id}"


async def unread_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    """The bell's number: unread notifications that are in the bell at all."""
    unread = _in_app(user_id).where(Notification.read_at.is_(None)).subquery()
    count = await session.scalar(select(func.count()).select_from(unread))
    return int(count or 0)


def _in_app(user_id: uuid.UUID) -> Select[Notification]:
    """A person's bell holds the notifications that had the in-app channel."""
    shown = select(Delivery.id).where(
        Delivery.notification_id == Notification.id, Delivery.channel == Channel.in_app
    )
    return select(Notification).where(Notification.user_id == user_id, shown.exists())


async def list_for(
    *, session: AsyncSession, actor: Actor, unread: bool | None = None, limit: int = LIST_LIMIT
) -> tuple[list[Notification], int]:
    """Newest first, with the unread count for the bell."""
    query = _in_app(actor.id)
    if unread is True:
        query = query.where(Notification.read_at.is_(None))
    elif unread is False:
        query = query.where(Notification.read_at.is_not(None))
    rows = await session.scalars(
        query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    )
    return list(rows), await unread_count(session, actor.id)


async def _announce_read(session: AsyncSession, user_id: uuid.UUID, unread: int) -> None:
    """Every open tab of the person updates its bell."""
    await realtime.publish_to_user(
        session, user_id, type="notification.read", data={"unread_count": unread}
    )


async def mark_read(
    *, session: AsyncSession, actor: Actor, notification_id: uuid.UUID
) -> tuple[Notification, int]:
    notification = await access.get_notification_for(session, actor, notification_id)
    if notification.read_at is None:
        notification.read_at = clock.now()
        await session.flush()
    unread = await unread_count(session, actor.id)
    await _announce_read(session, actor.id, unread)
    return notification, unread


async def mark_all_read(*, session: AsyncSession, actor: Actor) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
    )
    await _announce_read(session, actor.id, 0)
    return int(getattr(result, "rowcount", 0) or 0)
