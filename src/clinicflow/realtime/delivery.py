"""Getting every event to each follower exactly once and in order: the catch-up from the
database when a socket subscribes, the live fan-out of what the broker receives, and filling
the gap when an event arrives ahead of its predecessor.

A follower of a durable topic (one whose events carry `seq`) sees a gap-free sequence:
on subscribing it is caught up from the database while live events wait in a buffer; a
live event that arrives ahead of its predecessor (two processes published in the other
order) waits briefly for it, and the database fills the gap if it does not come.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from clinicflow.realtime.connections import Connection, Follower, Followers, Transaction
from clinicflow.realtime.events import Event
from clinicflow.realtime.logins import Logins
from clinicflow.realtime.mailbox import MailboxClosed
from clinicflow.realtime.topics import NotAllowed, Registry, Topic

log = structlog.get_logger(__name__)

REPLAY_BATCH = 500


class Delivery:
    """Delivers to the followers registered in `followers`; `taps` see every event first."""

    def __init__(
        self,
        *,
        followers: Followers,
        topics: Registry,
        logins: Logins,
        transaction: Transaction,
        gap_wait_seconds: float,
    ) -> None:
        self._followers = followers.by_topic
        self._topics = topics
        self._logins = logins
        self._transaction = transaction
        self._gap_wait = gap_wait_seconds
        self.taps: list[Callable[[Event], None]] = []

    async def catch_up(
        self, connection: Connection, follower: Follower, topic: Topic, *, authorize: bool
    ) -> None:
        """Send `follower` what it missed, a page of `REPLAY_BATCH` events at a time (one
        page in memory per socket, however long the history); raises `MailboxClosed` if
        the socket ends meanwhile."""
        since = follower.last_seq
        while True:
            async with self._transaction(write=True) as session:
                user = await self._logins.user(session, connection)
                if authorize and not await topic.authorize(
                    session=session, user=user, key=follower.key
                ):
                    raise NotAllowed(follower.topic)
                authorize = False
                events = await topic.replay(
                    session=session, user=user, key=follower.key, since=since, limit=REPLAY_BATCH
                )
            for event in events:
                # Awaiting the outbox here (not dropping) lets a far-behind client catch up
                # at the pace its socket drains. The wait ends (`MailboxClosed`) when the
                # socket does, and a socket that stops reading is closed by the stall
                # watchdog, so a dropped catch-up never holds its handler.
                for ready in follower.order.admit(event):
                    if connection.closing:
                        raise MailboxClosed
                    await connection.outbox.put(ready.encode())
            if follower.order.waiting:
                # What the database answered is all there is: a hole in it (events pruned
                # from a per-user log) will never fill, so what waits behind it goes now.
                for ready in follower.order.give_up_gap():
                    await connection.outbox.put(ready.encode())
            if len(events) < REPLAY_BATCH or follower.last_seq is None:
                return
            since = follower.last_seq

    def deliver(self, event: Event) -> None:
        """Called by the broker for every published event, in the order it received them."""
        for observer in self.taps:
            observer(event)
        followers = self._followers.get(event.topic)
        if not followers:
            return
        frame: str | None = None
        for connection, follower in list(followers.items()):
            if event.to is not None and event.to != str(connection.member.id):
                continue
            if follower.buffer is not None:
                follower.buffer.append(event)
                if len(follower.buffer) > connection.outbox.maxsize:
                    connection.abort(Connection.OVERFLOW_CODE)
                continue
            if event.seq is None:
                if _own_typing(event, connection):
                    continue
                frame = frame or event.encode()
                connection.push(frame)
                continue
            self.offer(connection, follower, event)

    def offer(self, connection: Connection, follower: Follower, event: Event) -> None:
        for ready in follower.order.admit(event):
            connection.push(ready.encode())
        if follower.order.waiting and follower.filling is None:
            follower.filling = asyncio.create_task(self._fill_gap(connection, follower))
        elif not follower.order.waiting and follower.filling is not None:
            follower.filling.cancel()
            follower.filling = None

    async def _fill_gap(self, connection: Connection, follower: Follower) -> None:
        """An event arrived ahead of one still missing; give the missing one a moment, then
        read it from the database (its transaction committed before the later one's)."""
        await asyncio.sleep(self._gap_wait)
        follower.filling = None
        if not follower.order.waiting or connection.closing:
            return
        topic, _ = self._topics.resolve(follower.topic)
        try:
            async with self._transaction(write=True) as session:
                user = await self._logins.user(session, connection)
                events = await topic.replay(
                    session=session,
                    user=user,
                    key=follower.key,
                    since=follower.last_seq,
                    limit=REPLAY_BATCH,
                )
        except Exception:
            log.exception("realtime.gap_fill_failed", topic=follower.topic)
            connection.abort(1011)
            return
        for event in events:
            for ready in follower.order.admit(event):
                connection.push(ready.encode())
        # Whatever is still missing was never stored: move on.
        for ready in follower.order.give_up_gap():
            connection.push(ready.encode())


def _own_typing(event: Event, connection: Connection) -> bool:
    """A typist's own "is typing" would tell them nothing and cost every keystroke a frame
    to each of their tabs."""
    return event.type == "typing" and event.data.get("user_id") == str(connection.member.id)
