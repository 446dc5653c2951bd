"""Access that follows a change: when a user's role, activity or care relation changes,
every socket of theirs, on every process, decides again each topic it follows.

A subscription is authorized once, when it is made. `reauthorize(session, user_id)` (the
hook identity calls when an admin changes a role or deactivates someone, and that the
care relation can call) publishes an `access.changed` event on `realtime:access` after the
transaction commits, so it reaches every process through the broker like any event. On
receiving it a process at once holds live events for that user's followers (so nothing
published after the change slips through while the check runs), checks the login again
and each topic's `authorize` with the user as they are now, then drops the topics no
longer allowed (`{"op": "unsubscribed", "topic", "code": "not_found"}`) and releases the
held events to the rest. A login that ended closes the socket (4401). The login sweep
starts the same check when it sees a socket's role changed, for changes made without the
hook (another tool writing the database, a lost broker message).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.realtime.connections import Connection, Follower, Transaction
from clinicflow.realtime.delivery import Delivery
from clinicflow.realtime.events import Event
from clinicflow.realtime.logins import LoginEnded, Logins
from clinicflow.realtime.publish import publish_on_commit
from clinicflow.realtime.topics import Registry, UnknownTopic

log = structlog.get_logger(__name__)

# No topic kind `realtime` is registered, so no client can follow this one.
ACCESS_TOPIC = "realtime:access"
ACCESS_CHANGED = "access.changed"
# Closing code when the check itself failed: the client reconnects and is checked anew.
CHECK_FAILED_CODE = 1011


def reauthorize(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Once this transaction commits, every process decides again what `user_id`'s open
    sockets may follow."""
    publish_on_commit(
        session, Event(topic=ACCESS_TOPIC, type=ACCESS_CHANGED, data={"user_id": str(user_id)})
    )


class Reauthorizer:
    """Runs the check for one socket at a time per socket; a change announced while a
    check runs makes it run once more before anything held is released."""

    def __init__(
        self,
        *,
        logins: Logins,
        topics: Registry,
        delivery: Delivery,
        transaction: Transaction,
        drop: Callable[[Connection, Follower], Awaitable[None]],
    ) -> None:
        self._logins = logins
        self._topics = topics
        self._delivery = delivery
        self._transaction = transaction
        self._drop = drop

    def observe(self, event: Event) -> None:
        """A tap on every event this process receives: act on `access.changed`."""
        if event.topic != ACCESS_TOPIC or event.type != ACCESS_CHANGED:
            return
        user_id = event.data.get("user_id")
        for connection in self._logins.connections():
            if str(connection.member.id) == user_id:
                self.check(connection)

    def check(self, connection: Connection) -> None:
        """Hold this socket's live events now and decide its topics again."""
        if connection.closing:
            return
        for follower in connection.followers.values():
            if follower.buffer is None:
                # Held like a catch-up's live events (`Delivery.deliver`), and bounded
                # the same way: too many and the socket is closed with 1013.
                follower.buffer = []
                follower.held = True
        connection.login_checked_until = 0.0
        if connection.access_check is not None:
            connection.access_recheck = True
            return
        connection.access_check = asyncio.create_task(self._run(connection))

    async def _run(self, connection: Connection) -> None:
        try:
            while True:
                connection.access_recheck = False
                connection.login_checked_until = 0.0
                for follower in await self._refused(connection):
                    if connection.followers.get(follower.topic) is follower:
                        await self._drop(connection, follower)
                        connection.push(
                            json.dumps(
                                {
                                    "op": "unsubscribed",
                                    "topic": follower.topic,
                                    "code": "not_found",
                                },
                                separators=(",", ":"),
                            )
                        )
                if not connection.access_recheck:
                    break
            self._release(connection)
        except LoginEnded:
            connection.abort(Connection.SIGN_IN_CODE)
        except Exception:
            # Neither letting the held events through unchecked nor holding them forever:
            # the client reconnects and each subscription is decided afresh.
            log.exception("realtime.reauthorize_failed", connection=connection.id)
            connection.abort(CHECK_FAILED_CODE)
        finally:
            connection.access_check = None

    async def _refused(self, connection: Connection) -> list[Follower]:
        """The followers whose topic the socket's user may no longer follow; raises
        `LoginEnded` when the login itself no longer counts."""
        refused: list[Follower] = []
        async with self._transaction(write=False) as session:
            user = await self._logins.user(session, connection)
            for follower in list(connection.followers.values()):
                try:
                    topic, key = self._topics.resolve(follower.topic)
                except UnknownTopic:
                    refused.append(follower)
                    continue
                if not await topic.authorize(session=session, user=user, key=key):
                    refused.append(follower)
        return refused

    def _release(self, connection: Connection) -> None:
        """Pass on what was held, in order, to the followers that stay."""
        for follower in list(connection.followers.values()):
            if not follower.held:
                continue
            follower.held = False
            pending, follower.buffer = follower.buffer or [], None
            for event in pending:
                self._delivery.offer(connection, follower, event)
