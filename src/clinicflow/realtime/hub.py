"""The hub: which of this process's sockets follow which topic, and getting every event to
each of them exactly once and in order.

`Hub` is what the socket endpoint and the runtime talk to; it puts its parts together:
`connections` (the sockets and which follow each topic), `delivery` (catch-up, fan-out, gap
filling), `presence`, `logins` (the login sweep) and `sends` (group commit of chat sends). Import a
part's names from the part's own module.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import i18n
from clinicflow.core.audit import Actor
from clinicflow.realtime.broker import Broker
from clinicflow.realtime.connections import (
    Connection,
    Follower,
    Followers,
    Member,
    Transaction,
)
from clinicflow.realtime.delivery import REPLAY_BATCH, Delivery
from clinicflow.realtime.events import Event
from clinicflow.realtime.fanout import FanOut
from clinicflow.realtime.logins import Logins
from clinicflow.realtime.presence import Arrival, PresenceTracker
from clinicflow.realtime.reauthorize import Reauthorizer
from clinicflow.realtime.recovery import Recovery
from clinicflow.realtime.sends import PendingSend, SendQueue, SendStore
from clinicflow.realtime.sequencer import Sequencer
from clinicflow.realtime.topics import HasHead, NotAllowed, Registry, Topic
from clinicflow.realtime.watchdog import Stalls

log = structlog.get_logger(__name__)

TYPING_MIN_SECONDS = 1.0


class NotFollowing(Exception):
    """An operation named a topic this socket has not subscribed to."""


class Hub:
    def __init__(
        self,
        *,
        broker: Broker,
        transaction: Transaction,
        gap_wait_seconds: float = 0.25,
        login_recheck_seconds: float = 5.0,
        send_stall_seconds: float = 30.0,
        send_writers: int = 1,
    ) -> None:
        self.broker = broker
        self.topics = Registry()
        self._transaction = transaction
        self._followers = Followers()
        self._logins = Logins(transaction=transaction, recheck_seconds=login_recheck_seconds)
        self._presence = PresenceTracker(broker=broker, transaction=transaction, topics=self.topics)
        self._delivery = Delivery(
            followers=self._followers,
            topics=self.topics,
            logins=self._logins,
            transaction=transaction,
            gap_wait_seconds=gap_wait_seconds,
        )
        store = SendStore(transaction=transaction, logins=self._logins)
        self._sends = SendQueue(store.store, writers=send_writers)
        self._stalls = Stalls(stall_seconds=send_stall_seconds)
        self._access = Reauthorizer(
            logins=self._logins,
            topics=self.topics,
            delivery=self._delivery,
            transaction=transaction,
            drop=self._drop,
        )
        self._delivery.taps.append(self._access.observe)
        self._logins.role_changed = self._access.check
        recovery = Recovery(followers=self._followers, delivery=self._delivery, topics=self.topics)
        # Every event this process receives reaches its followers in its topic's arrival
        # order, and after the answer of the request that published it (`fanout`).
        broker.attach(FanOut(self._delivery.deliver).receive, resync=recovery.resync)

    def tap(self, observer: Callable[[Event], None]) -> None:
        """See every event this process receives, whoever follows it (tests, metrics)."""
        self._delivery.taps.append(observer)

    def track_presence(
        self,
        topic: Topic,
        *,
        kind: str = "presence",
        counts: Callable[[Member, str], bool] | None = None,
        arrived: Arrival | None = None,
    ) -> None:
        """Register `topic`'s presence topic (`presence.PresenceTracker.track` says what
        `kind`, `counts` and `arrived` do)."""
        self._presence.track(topic, kind=kind, counts=counts, arrived=arrived)

    # --- following -----------------------------------------------------------------------

    async def subscribe(self, connection: Connection, name: str, since: int | None) -> Follower:
        topic, key = self.topics.resolve(name)
        if name in connection.followers:
            await self.unsubscribe(connection, name)
        follower = Follower(topic=name, key=key, order=Sequencer(last_seq=since))
        # Registered before the catch-up query, so an event committed meanwhile is either
        # in the query's answer or in the buffer (and then dropped by `seq` as a repeat).
        self._followers.add(connection, follower)
        try:
            await self.broker.start()
            await self._delivery.catch_up(connection, follower, topic, authorize=True)
        except BaseException:
            self._followers.forget(connection, follower)
            raise
        if connection.followers.get(name) is not follower:
            # A role change was checked meanwhile and refused it (`reauthorize`).
            raise NotAllowed(name)
        pending, follower.buffer = follower.buffer or [], None
        for event in pending:
            self._delivery.offer(connection, follower, event)
        await self._presence.join(connection, follower)
        return follower

    async def unsubscribe(self, connection: Connection, name: str) -> None:
        follower = connection.followers.get(name)
        if follower is None:
            return
        await self._drop(connection, follower)

    async def _drop(self, connection: Connection, follower: Follower) -> None:
        self._followers.forget(connection, follower)
        await self._presence.leave(connection, follower)

    @property
    def open_sockets(self) -> int:
        """How many sockets this process has open (tests, metrics)."""
        return len(self._logins.connections())

    def connect(self, connection: Connection) -> None:
        """A socket has opened; its login is checked from now on (`logins.Logins`), and
        its sends watched for a client that stopped reading (`watchdog.Stalls`)."""
        self._logins.connect(connection)
        self._stalls.connect(connection)
        log.info(
            "realtime.socket_opened",
            connection=connection.id,
            user_id=str(connection.member.id),
            role=str(connection.member.role),
        )

    async def close(self) -> None:
        await self._logins.close()
        await self._stalls.close()

    async def disconnect(self, connection: Connection) -> None:
        self._logins.disconnect(connection)
        self._stalls.disconnect(connection)
        connection.end()
        log.info("realtime.socket_closed", connection=connection.id)
        if connection.access_check is not None:
            connection.access_check.cancel()
        for name in list(connection.followers):
            try:
                await self.unsubscribe(connection, name)
            except Exception:
                log.exception("realtime.unsubscribe_failed", topic=name)

    async def heartbeat(self, connection: Connection) -> None:
        """Keep this socket's presence alive in every topic it follows."""
        await self._presence.heartbeat(connection)

    async def poll(
        self, *, session: AsyncSession, user: Actor, name: str, since: int | None
    ) -> tuple[list[Event], int | None]:
        """The catch-up a subscriber would get, for a client that polls instead, and the
        seq to ask from next time: the last event's, else `since`, else (a topic that
        starts from now, `HasHead`) the topic's last seq, so a poller that began without
        one is not stuck asking for "everything after nothing" for ever."""
        topic, key = self.topics.resolve(name)
        if not await topic.authorize(session=session, user=user, key=key):
            raise NotAllowed(name)
        events = await topic.replay(
            session=session, user=user, key=key, since=since, limit=REPLAY_BATCH
        )
        seqs = [event.seq for event in events if event.seq is not None]
        if seqs:
            return events, seqs[-1]
        if since is None and isinstance(topic, HasHead):
            return events, await topic.head(session=session, key=key)
        return events, since

    # --- writing -------------------------------------------------------------------------

    async def typing(self, connection: Connection, name: str) -> None:
        follower = connection.followers.get(name)
        if follower is None:
            raise NotFollowing(name)
        now = time.monotonic()
        if now - follower.last_typing < TYPING_MIN_SECONDS:
            return
        follower.last_typing = now
        member = connection.member
        data = {"user_id": str(member.id), "name": member.name, "role": member.role.value}
        await self.broker.publish([Event(topic=name, type="typing", data=data)])

    async def send(
        self, connection: Connection, name: str, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Store a sent frame; answered once the batch it joined has committed."""
        topic, key = self.topics.resolve_accepting(name)
        send = PendingSend(
            connection=connection,
            topic=topic,
            key=key,
            payload=payload,
            language=i18n.current_language(),
            answer=asyncio.get_running_loop().create_future(),
        )
        self._sends.put(send)
        return await send.answer

    async def call(
        self, connection: Connection, name: str, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Relay a `call` frame (a call's signalling) through the topic's `Signals`, in one
        transaction of its own: the record it keeps and the event it relays commit together.
        The `Signals` first admits the frame (its rate limit), before any transaction."""
        signals, key = self.topics.resolve_signals(name)
        await signals.admit(user_id=connection.member.id, key=key)
        async with self._transaction(write=True) as session:
            user = await self._logins.user(session, connection)
            return await signals.signal(session=session, user=user, key=key, payload=payload)
