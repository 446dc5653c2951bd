"""Presence: following a tracked topic (`consultation:<key>`) marks the user present in its
presence topic (`presence:<key>`), which its followers may follow to see who is connected.

Who is present where is kept by the broker (`broker.Presence`: in memory, or Redis sorted
sets shared by every process); this module decides which subscriptions count, announces a
change, and tells the domain when someone arrives.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.realtime.broker import Broker
from clinicflow.realtime.connections import Connection, Follower, Member, Transaction
from clinicflow.realtime.events import Event
from clinicflow.realtime.topics import Registry, Topic

log = structlog.get_logger(__name__)

Arrival = Callable[[AsyncSession, str], Awaitable[None]]


class PresenceTracker:
    """The topic kinds whose followers are present somewhere, and keeping each socket's
    presence as it subscribes, pings and leaves."""

    def __init__(self, *, broker: Broker, transaction: Transaction, topics: Registry) -> None:
        self._broker = broker
        self._transaction = transaction
        self._topics = topics
        self._presence_of: dict[str, str] = {}
        self._presence_counts: dict[str, Callable[[Member, str], bool]] = {}
        self._arrivals: dict[str, Arrival] = {}

    def track(
        self,
        topic: Topic,
        *,
        kind: str = "presence",
        counts: Callable[[Member, str], bool] | None = None,
        arrived: Arrival | None = None,
    ) -> None:
        """Following `<topic.kind>:<key>` marks the user present in `<kind>:<key>`, which
        anyone allowed to follow the first may follow to see who is connected. With
        `counts`, only the followers it accepts (given the member and the key) are. With
        `arrived`, a user's coming into the presence also runs it, given a write
        transaction and the key, for a domain that keeps a record of who is there and
        should not wait for its own sweep to notice. It runs before the subscription is
        confirmed, so what it publishes reaches the new follower first."""
        self._presence_of[topic.kind] = kind
        if counts is not None:
            self._presence_counts[topic.kind] = counts
        if arrived is not None:
            self._arrivals[topic.kind] = arrived
        self._topics.register(PresenceTopic(of=topic, broker=self._broker, kind=kind))

    def _presence_topic(self, follower: Follower, member: Member) -> str | None:
        kind = follower.topic.partition(":")[0]
        prefix = self._presence_of.get(kind)
        if prefix is None:
            return None
        counts = self._presence_counts.get(kind)
        if counts is not None and not counts(member, follower.key):
            return None
        return f"{prefix}:{follower.key}"

    async def _announce_presence(self, topic: str) -> None:
        users = await self._broker.presence.users(topic)
        await self._broker.publish(
            [Event(topic=topic, type="presence.updated", data={"user_ids": users})]
        )

    async def join(self, connection: Connection, follower: Follower) -> None:
        """A socket has subscribed: it is present where the subscription counts, and the
        presence's followers (and the domain, if it asked) hear when its user arrives."""
        presence = self._presence_topic(follower, connection.member)
        if presence and await self._broker.presence.join(
            presence, str(connection.member.id), connection.id
        ):
            await self._announce_presence(presence)
            await self._arrive(follower)

    async def _arrive(self, follower: Follower) -> None:
        """Run the topic's `arrived`. The subscription stands if it fails: it only hurries
        what the domain's sweep would do anyway."""
        arrived = self._arrivals.get(follower.topic.partition(":")[0])
        if arrived is None:
            return
        try:
            async with self._transaction(write=True) as session:
                await arrived(session, follower.key)
        except Exception:
            log.exception("realtime.arrival_failed", topic=follower.topic)

    async def leave(self, connection: Connection, follower: Follower) -> None:
        presence = self._presence_topic(follower, connection.member)
        if presence and await self._broker.presence.leave(
            presence, str(connection.member.id), connection.id
        ):
            await self._announce_presence(presence)

    async def heartbeat(self, connection: Connection) -> None:
        """Keep this socket's presence alive in every topic it follows."""
        entries = [
            (presence, str(connection.member.id), connection.id)
            for follower in connection.followers.values()
            if (presence := self._presence_topic(follower, connection.member))
        ]
        if entries:
            await self._broker.presence.refresh(entries)


class PresenceTopic:
    """`presence:<key>`: who is connected to `<of.kind>:<key>`; a snapshot, then changes."""

    def __init__(self, *, of: Topic, broker: Broker, kind: str = "presence") -> None:
        self.kind = kind
        self._of = of
        self._broker = broker

    async def authorize(self, *, session: AsyncSession, user: Actor, key: str) -> bool:
        return await self._of.authorize(session=session, user=user, key=key)

    async def replay(
        self, *, session: AsyncSession, user: Actor, key: str, since: int | None, limit: int
    ) -> list[Event]:
        topic = f"{self.kind}:{key}"
        users = await self._broker.presence.users(topic)
        return [Event(topic=topic, type="presence.snapshot", data={"user_ids": users})]
