"""The hub's view of this process's sockets: who each one belongs to, what it follows, its
bounded outbox, and which sockets follow each topic.

The parts of the hub (`logins`, `delivery`, `presence`, `sends`) all work on these, and
each opens its units of work through the runtime's `Transaction`.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.identity.schemas import Role
from clinicflow.realtime.events import Event
from clinicflow.realtime.mailbox import Mailbox
from clinicflow.realtime.sequencer import Sequencer

Transaction = Callable[..., AbstractAsyncContextManager[AsyncSession]]

_connection_ids = itertools.count(1)


@dataclass(frozen=True)
class Member:
    """Who a socket belongs to, as plain values (an ORM row would outlive its session)."""

    id: uuid.UUID
    name: str
    role: Role


@dataclass(eq=False)
class Follower:
    """One socket's subscription to one topic."""

    topic: str
    key: str
    order: Sequencer
    buffer: list[Event] | None = field(default_factory=list)
    filling: asyncio.Task[None] | None = None
    last_typing: float = 0.0
    # Live events wait in `buffer` while a role change is checked (`reauthorize`).
    held: bool = False

    @property
    def last_seq(self) -> int | None:
        return self.order.last_seq


class Connection:
    """One socket as the hub sees it: who it is, what it follows, and its bounded outbox.

    The outbox is bounded so that one slow client cannot make the server hold an
    unbounded backlog for it; when it is full the socket is closed with 1013 and the
    client resumes from the last `seq` it saw. A socket whose send makes no progress for
    `ws_send_stall_seconds` (its client stopped reading) is closed with 1013 too
    (`watchdog.Stalls`). Aborting closes the outbox, which ends every wait on it.
    """

    OVERFLOW_CODE = 1013
    STALLED_CODE = 1013
    SIGN_IN_CODE = 4401

    def __init__(
        self,
        *,
        member: Member,
        login_id: uuid.UUID,
        buffer_size: int,
        abort: Callable[[int], None],
    ) -> None:
        self.id = f"{uuid.uuid4().hex[:12]}-{next(_connection_ids)}"
        self.member = member
        self.login_id = login_id
        self.login_checked_until = 0.0
        self.outbox: Mailbox[str] = Mailbox(buffer_size)
        self.followers: dict[str, Follower] = {}
        self.closing = False
        # When the frame being sent now was handed to the server (loop time), or None
        # between sends: the stall watchdog closes a socket stuck in one send too long.
        self.sending_since: float | None = None
        # The access check running after a role change, and whether another was asked
        # for meanwhile (`reauthorize.Reauthorizer`).
        self.access_check: asyncio.Task[None] | None = None
        self.access_recheck = False
        self._abort = abort

    def push(self, frame: str) -> None:
        if self.closing:
            return
        if not self.outbox.put_nowait(frame):
            self.abort(self.OVERFLOW_CODE)

    def abort(self, code: int) -> None:
        """Close the socket with `code`; what waits on its outbox stops waiting."""
        if not self.closing:
            self.closing = True
            self.outbox.close()
            self._abort(code)

    def end(self) -> None:
        """The socket is gone (its endpoint is returning): drop the outbox and end every
        wait on it, without a close frame of our own."""
        self.closing = True
        self.outbox.close()


class Followers:
    """Which of this process's sockets follow each topic: topic → socket → its `Follower`.

    The fan-out reads `by_topic` itself, once for every event this process receives.
    """

    def __init__(self) -> None:
        self.by_topic: dict[str, dict[Connection, Follower]] = {}

    def add(self, connection: Connection, follower: Follower) -> None:
        self.by_topic.setdefault(follower.topic, {})[connection] = follower
        connection.followers[follower.topic] = follower

    def forget(self, connection: Connection, follower: Follower) -> None:
        """Stop `follower`; a newer follower of the same topic on the socket stays."""
        if connection.followers.get(follower.topic) is follower:
            del connection.followers[follower.topic]
        followers = self.by_topic.get(follower.topic)
        if followers is not None and followers.get(connection) is follower:
            del followers[connection]
            if not followers:
                del self.by_topic[follower.topic]
        if follower.filling is not None:
            follower.filling.cancel()
