"""What a domain tells the hub about one kind of topic: who may follow it, and how to catch
a late or reconnecting follower up from the database; the registry of those kinds, and
`user:<id>`, the one kind the realtime package keeps itself."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError
from clinicflow.realtime import user_events
from clinicflow.realtime.events import Event

# The largest `seq` a durable event can carry: seqs are 32-bit integers in the database, so
# a larger `since` is refused before it reaches a query (PostgreSQL rejects it as a
# parameter, SQLite cannot bind 10^30 at all).
MAX_SEQ = 2**31 - 1


class Topic(Protocol):
    """One kind of topic: `kind` is the part of `consultation:<key>` before the colon."""

    kind: str

    async def authorize(self, *, session: AsyncSession, user: Actor, key: str) -> bool:
        """Whether `user` may follow `<kind>:<key>`; the same False for missing and forbidden."""
        ...

    async def replay(
        self, *, session: AsyncSession, user: Actor, key: str, since: int | None, limit: int
    ) -> list[Event]:
        """What a follower must see on (re)subscribing: the durable events after `since`
        in `seq` order (at most `limit`), or a snapshot for topics that send one."""
        ...


@dataclass(frozen=True)
class Incoming:
    """One `{"op": "send"}` frame: who sent it, to which key of the topic, and the frame."""

    user: Actor
    key: str
    payload: Mapping[str, Any]


@runtime_checkable
class AcceptsSends(Protocol):
    """A topic whose followers may also write to it over the socket (`{"op": "send"}`)."""

    async def send(
        self, *, session: AsyncSession, sends: Sequence[Incoming]
    ) -> list[dict[str, Any] | AppError]:
        """Store what was sent, in order (the caller commits), and answer each send: what
        was stored, or why it was refused. The hub hands over every send that arrived
        while it was storing the last ones, so this should cost a few statements in all,
        not a few per send."""
        ...


class Signals(Protocol):
    """What relays a topic's `{"op": "call"}` frames (a call's signalling) between the
    people on it. It decides who may signal, stores what must be kept (the call's record)
    and publishes the relayed event on commit, narrowed to its recipient (`Event.to`)."""

    async def admit(self, *, user_id: uuid.UUID, key: str) -> None:
        """Let one more frame of `user_id` on topic `key` through, or refuse it with an
        `AppError` (too many of them): asked before a transaction is opened for it, so a
        flood of frames costs no database work."""
        ...

    async def signal(
        self, *, session: AsyncSession, user: Actor, key: str, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Handle one frame (the caller commits) and answer the fields of the sender's
        reply; refuse with an `AppError`, or `NotAllowed` for a topic not theirs."""
        ...


class UnknownTopic(Exception):
    """The topic name does not parse or names no registered kind."""


class NotAllowed(Exception):
    """The topic is missing or not this user's to follow (the two look the same)."""


class Registry:
    def __init__(self) -> None:
        self._topics: dict[str, Topic] = {}
        self._accepting: dict[str, AcceptsSends] = {}
        self._signals: dict[str, Signals] = {}

    def register(self, topic: Topic) -> None:
        self._topics[topic.kind] = topic
        if isinstance(topic, AcceptsSends):
            self._accepting[topic.kind] = topic

    def relay_calls(self, kind: str, signals: Signals) -> None:
        """Let `kind`'s topics carry `call` frames, handled by `signals` (a domain above the
        topic's own, so it registers beside it rather than inside it)."""
        self._signals[kind] = signals

    def resolve_signals(self, name: str) -> tuple[Signals, str]:
        """Like `resolve`, for a topic whose `call` frames are relayed."""
        _, key = self.resolve(name)
        signals = self._signals.get(name.partition(":")[0])
        if signals is None:
            raise UnknownTopic(name)
        return signals, key

    def resolve_accepting(self, name: str) -> tuple[AcceptsSends, str]:
        """Like `resolve`, for a topic that takes sends (the protocol check is slow, so it
        is made once, when the topic is registered)."""
        _, key = self.resolve(name)
        topic = self._accepting.get(name.partition(":")[0])
        if topic is None:
            raise UnknownTopic(name)
        return topic, key

    def resolve(self, name: str) -> tuple[Topic, str]:
        kind, sep, key = name.partition(":")
        topic = self._topics.get(kind)
        if not sep or not key or topic is None or len(name) > 200:
            raise UnknownTopic(name)
        return topic, key


@runtime_checkable
class HasHead(Protocol):
    """A durable topic whose followers start from "now" rather than from its history: a
    poller that gives no `since` is told the topic's last seq, to ask for what follows."""

    async def head(self, *, session: AsyncSession, key: str) -> int: ...


class UserTopic:
    """`user:<id>`: things for one person (their consultations' changes, notifications),
    kept in the per-user event log (`user_events`) so it can be polled and resumed."""

    kind = "user"

    async def authorize(self, *, session: AsyncSession, user: Actor, key: str) -> bool:
        return key == str(user.id)

    async def replay(
        self, *, session: AsyncSession, user: Actor, key: str, since: int | None, limit: int
    ) -> list[Event]:
        return await user_events.replay(session, user.id, since=since, limit=limit)

    async def head(self, *, session: AsyncSession, key: str) -> int:
        return await user_events.head(session, uuid.UUID(key))
