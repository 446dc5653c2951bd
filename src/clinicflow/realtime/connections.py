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

    @property
    def last_seq(self) -> int | None:
        return self.order.last_seq


class Connection:
    """One socket as the hub sees it: who it is, what it follows, and its bounded outbox.

    The outbox is bounded so that one slow client cannot make the server hold an
    unbounded backlog for it; when it is full the socket is closed with 1013 and the
    client resumes from the last `seq` it saw.
    """

    OVERFLOW_CODE = 1013
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
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=buffer_size)
        self.followers: dict[str, Follower] = {}
        self.closing = False
        self._abort = abort

    def push(self, frame: str) -> None:
        if self.closing:
            return
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueFull:
            self.abort(self.OVERFLOW_CODE)

    def abort(self, code: int) -> None:
        if not self.closing:
            self.closing = True
            self._abort(code)


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
        connection.followers.pop(follower.topic, None)
        followers = self.by_topic.get(follower.topic)
        if followers is not None:
            followers.pop(connection, None)
            if not followers:
                del self.by_topic[follower.topic]
        if follower.filling is not None:
            follower.filling.cancel()
