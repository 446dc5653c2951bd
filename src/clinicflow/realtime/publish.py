"""How services announce a change: `publish_on_commit`, never before the data is stored."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.db import after_commit
from clinicflow.realtime.events import Event

log = structlog.get_logger(__name__)

PUBLISHER_KEY = "clinicflow.realtime.publisher"


class Publisher(Protocol):
    async def publish(self, events: list[Event]) -> None: ...


def session_info(publisher: Publisher) -> dict[str, Any]:
    """What the runtime puts into every session's `info`, so services find the process's
    broker without a global or an extra argument through every call."""
    return {PUBLISHER_KEY: publisher}


def publish_on_commit(session: AsyncSession, *events: Event) -> None:
    """Send `events` to every follower of their topics once this transaction commits, as
    one publish (one Redis round trip for a batch).

    A follower that receives an event can therefore always read its data; a rolled-back
    change (or savepoint) announces nothing. A transaction's events go out in the order
    they were queued. A person's topic (`user:<id>`) takes `publish_to_user`, which also
    stores the event in their log.
    """
    for event in events:
        if event.topic.startswith("user:") and event.seq is None:
            # A person's topic is polled from its log; an event left out of it would be
            # missed by every page without a socket.
            raise ValueError("publish on user:<id> through realtime.publish_to_user")
    publisher: Publisher | None = session.info.get(PUBLISHER_KEY)
    if publisher is None:
        for event in events:
            log.warning("realtime.no_publisher", topic=event.topic, type=event.type)
        return

    async def publish() -> None:
        await publisher.publish(list(events))

    after_commit(session, publish)


async def present_users_of(session: AsyncSession, topics: Collection[str]) -> dict[str, set[str]]:
    """Who is present on each of these presence topics now (user ids), through the
    process's broker in one look-up; nobody when the session has no broker with presence.

    Never fails for want of Redis: while it is down the answer is who is present on this
    process, so someone present only elsewhere counts as away. A caller deciding whether
    to notify therefore notifies when in doubt (a spare notification, never a lost one),
    and a chat send never depends on presence being reachable."""
    publisher = session.info.get(PUBLISHER_KEY)
    presence = getattr(publisher, "presence", None)
    if presence is None:
        return {topic: set() for topic in topics}
    users: dict[str, set[str]] = await presence.users_of(topics)
    return users
