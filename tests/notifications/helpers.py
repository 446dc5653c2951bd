"""Shared steps of the notification tests: tell someone something through the service, and
read what the database kept."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.notifications import service as notifications
from clinicflow.notifications.models import Delivery, Notification
from clinicflow.notifications.schemas import Kind
from clinicflow.runtime import Runtime

VALUES = {"doctor": "Dr Achieng", "when": "2026-03-03 10:00", "token": "7", "position": "3"}


async def notify(runtime: Runtime, user_id: uuid.UUID, kind: Kind, **extra: Any) -> uuid.UUID:
    async with runtime.transaction() as session:
        row = await notifications.notify(
            session,
            user_id=user_id,
            kind=kind,
            values={**VALUES, "link": "", "sender": ""},
            **extra,
        )
    assert row is not None
    return row.id


async def deliveries_of(session: AsyncSession, user_id: uuid.UUID) -> list[Delivery]:
    rows = await session.scalars(
        select(Delivery)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Notification.user_id == user_id)
    )
    return list(rows)


async def channels_of(session: AsyncSession, notification_id: uuid.UUID) -> set[str]:
    rows = await session.scalars(
        select(Delivery.channel).where(Delivery.notification_id == notification_id)
    )
    return {row.value for row in rows}


async def notifications_of(session: AsyncSession, user_id: uuid.UUID) -> list[Notification]:
    rows = await session.scalars(
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at, Notification.title)
    )
    return list(rows)


async def told(session: AsyncSession, user_id: uuid.UUID) -> list[tuple[str, set[str], str]]:
    """(type, channels, body) of every notification to `user_id`, oldest first."""
    rows = list(
        await session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.created_at, Notification.id)
        )
    )
    result = []
    for row in sorted(rows, key=lambda n: (n.created_at, n.kind.value)):
        channels = await session.scalars(
            select(Delivery.channel).where(Delivery.notification_id == row.id)
        )
        result.append((row.kind.value, {c.value for c in channels}, row.body))
    return result


def kinds(found: list[tuple[str, set[str], str]]) -> list[str]:
    return [kind for kind, _channels, _body in found]


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = 60) -> None:
    """Poll the database (or a stand-in) until `condition` holds: another process or task
    changes it, so there is no event to wait on."""
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 - polling what another process writes
            await asyncio.sleep(0.02)
