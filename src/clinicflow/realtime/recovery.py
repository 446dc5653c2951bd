"""Bringing this process's followers up to date from the database after Redis was down.

While Redis is unreachable, events published by other processes do not arrive here. The
broker says when that may have happened (`broker.Resync`): when its own listener comes
back (any topic) or when another process announces the topics it could not publish to.
Each affected follower is then caught up exactly as on subscribing: the durable events
after the last `seq` it saw (its `Sequencer` drops any it already has, so none arrives
twice or out of order) or, for a snapshot topic, a fresh snapshot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

import structlog

from clinicflow.realtime.connections import Connection, Follower, Followers
from clinicflow.realtime.delivery import Delivery
from clinicflow.realtime.topics import Registry

log = structlog.get_logger(__name__)

# Catch-ups run at once; each holds a database connection while it reads.
AT_ONCE = 4
# The code a socket is closed with when its catch-up fails: it reconnects and resumes
# from its last `seq`, which reaches the same result by another road.
FAILED_CODE = 1011


class Recovery:
    def __init__(self, *, followers: Followers, delivery: Delivery, topics: Registry) -> None:
        self._followers = followers.by_topic
        self._delivery = delivery
        self._topics = topics

    async def resync(self, names: Collection[str] | None) -> None:
        """Catch up every follower of `names` on this process (of every topic: None)."""
        wanted = None if names is None else set(names)
        pairs = [
            (connection, follower)
            for name, followers in list(self._followers.items())
            if wanted is None or name in wanted
            for connection, follower in list(followers.items())
        ]
        if not pairs:
            return
        log.info("realtime.resync", followers=len(pairs), topics=len(wanted or ()) or "all")
        gate = asyncio.Semaphore(AT_ONCE)
        await asyncio.gather(
            *(self._one(gate, connection, follower) for connection, follower in pairs)
        )

    async def _one(
        self, gate: asyncio.Semaphore, connection: Connection, follower: Follower
    ) -> None:
        async with gate:
            if connection.closing or connection.followers.get(follower.topic) is not follower:
                return
            try:
                topic, _ = self._topics.resolve(follower.topic)
                await self._delivery.catch_up(connection, follower, topic, authorize=False)
            except Exception:
                log.warning("realtime.resync_failed", topic=follower.topic, exc_info=True)
                connection.abort(FAILED_CODE)
