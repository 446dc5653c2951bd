"""The hub: which of this process's sockets follow which topic, and getting every event to
each of them exactly once and in order.

A follower of a durable topic (one whose events carry `seq`) sees a gap-free sequence:
on subscribing it is caught up from the database while live events wait in a buffer; a
live event that arrives ahead of its predecessor (two processes published in the other
order) waits briefly for it, and the database fills the gap if it does not come.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import i18n
from clinicflow.core.audit import Actor
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.realtime.broker import Broker
from clinicflow.realtime.events import Event
from clinicflow.realtime.sequencer import Sequencer
from clinicflow.realtime.topics import AcceptsSends, Incoming, Registry, Topic

log = structlog.get_logger(__name__)

Transaction = Callable[..., AbstractAsyncContextManager[AsyncSession]]
Arrival = Callable[[AsyncSession, str], Awaitable[None]]

REPLAY_BATCH = 500
TYPING_MIN_SECONDS = 1.0
MAX_SEND_BATCH = 200
_connection_ids = itertools.count(1)


class NotAllowed(Exception):
    """The topic is missing or not this user's to follow (the two look the same)."""


class LoginEnded(Exception):
    """The socket's login was signed out or its user deactivated since it connected."""


class NotFollowing(Exception):
    """An operation named a topic this socket has not subscribed to."""


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


@dataclass(eq=False)
class PendingSend:
    """A `send` frame waiting for the writer, and where its answer goes."""

    connection: Connection
    topic: AcceptsSends
    key: str
    payload: Mapping[str, Any]
    language: str
    answer: asyncio.Future[dict[str, Any]]

    def settle(self, answer: dict[str, Any] | BaseException) -> None:
        if self.answer.done():
            return
        if isinstance(answer, BaseException):
            self.answer.set_exception(answer)
        else:
            self.answer.set_result(answer)


class SendQueue:
    """Group commit: a writer stores every send that arrived while it was busy in one
    transaction. Each chat message alone paid a transaction (begin, commit, and on SQLite
    the one writer's turn); at hundreds of messages a second those were most of the cost.

    Up to `writers` batches are stored at once. On a server database a batch spends most
    of its time waiting (round trips, the commit's flush to disk), and the next one can be
    taken meanwhile; SQLite has one writer whatever we do, so there it is one. Writers run
    only while there is work and are started by the sends.
    """

    def __init__(
        self,
        store: Callable[[list[PendingSend]], Awaitable[None]],
        *,
        max_batch: int = MAX_SEND_BATCH,
        writers: int = 1,
    ) -> None:
        self._store = store
        self._max_batch = max_batch
        self._most_writers = writers
        self._waiting: list[PendingSend] = []
        self._writers: set[asyncio.Task[None]] = set()

    def put(self, send: PendingSend) -> None:
        self._waiting.append(send)
        if len(self._writers) < self._most_writers:
            self._writers.add(asyncio.create_task(self._write()))

    async def _write(self) -> None:
        me = asyncio.current_task()
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                try:
                    await self._store(batch)
                except Exception as exc:
                    for send in batch:
                        send.settle(exc)
                except BaseException:
                    for send in batch:
                        send.answer.cancel()
                    raise
        finally:
            # Leaving the set at once (not in a done callback) means a send put after the
            # last look at `_waiting` always finds room to start a writer.
            self._writers.discard(me)
            if not self._writers:
                # Cancelled with sends still waiting (shutdown): they must not hang.
                for send in self._waiting:
                    send.answer.cancel()
                self._waiting.clear()


class Hub:
    def __init__(
        self,
        *,
        broker: Broker,
        transaction: Transaction,
        gap_wait_seconds: float = 0.25,
        login_recheck_seconds: float = 5.0,
        send_writers: int = 1,
    ) -> None:
        self.broker = broker
        self._login_recheck = login_recheck_seconds
        self.topics = Registry()
        self._transaction = transaction
        self._gap_wait = gap_wait_seconds
        self._followers: dict[str, dict[Connection, Follower]] = {}
        self._presence_of: dict[str, str] = {}
        self._presence_counts: dict[str, Callable[[Member, str], bool]] = {}
        self._arrivals: dict[str, Arrival] = {}
        self._taps: list[Callable[[Event], None]] = []
        self._sends = SendQueue(self._store, writers=send_writers)
        self._connections: set[Connection] = set()
        self._login_sweeper: asyncio.Task[None] | None = None
        broker.attach(self.deliver)

    def tap(self, observer: Callable[[Event], None]) -> None:
        """See every event this process receives, whoever follows it (tests, metrics)."""
        self._taps.append(observer)

    # --- topics with presence ------------------------------------------------------------

    def track_presence(
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
        self.topics.register(PresenceTopic(of=topic, hub=self, kind=kind))

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
        users = await self.broker.presence.users(topic)
        await self.broker.publish(
            [Event(topic=topic, type="presence.updated", data={"user_ids": users})]
        )

    # --- following -----------------------------------------------------------------------

    async def subscribe(self, connection: Connection, name: str, since: int | None) -> Follower:
        topic, key = self.topics.resolve(name)
        if name in connection.followers:
            await self.unsubscribe(connection, name)
        follower = Follower(topic=name, key=key, order=Sequencer(last_seq=since))
        # Registered before the catch-up query, so an event committed meanwhile is either
        # in the query's answer or in the buffer (and then dropped by `seq` as a repeat).
        self._followers.setdefault(name, {})[connection] = follower
        connection.followers[name] = follower
        try:
            await self.broker.start()
            await self._catch_up(connection, follower, topic, authorize=True)
        except BaseException:
            self._forget(connection, follower)
            raise
        pending, follower.buffer = follower.buffer or [], None
        for event in pending:
            self._offer(connection, follower, event)
        presence = self._presence_topic(follower, connection.member)
        if presence and await self.broker.presence.join(
            presence, str(connection.member.id), connection.id
        ):
            await self._announce_presence(presence)
            await self._arrive(follower)
        return follower

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

    async def _catch_up(
        self, connection: Connection, follower: Follower, topic: Topic, *, authorize: bool
    ) -> None:
        since = follower.last_seq
        while True:
            async with self._transaction(write=True) as session:
                user = await self._user(session, connection)
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
                # at the pace its socket drains.
                for ready in follower.order.admit(event):
                    if connection.closing:
                        return
                    await connection.outbox.put(ready.encode())
            if len(events) < REPLAY_BATCH or follower.last_seq is None:
                return
            since = follower.last_seq

    async def _user(self, session: AsyncSession, connection: Connection) -> Actor:
        """The socket's user, with its login checked again when the last check is older
        than `login_recheck_seconds` (a query per frame would dominate a chat message)."""
        user = (await self._users(session, {connection}))[connection]
        if isinstance(user, LoginEnded):
            raise user
        return user

    async def unsubscribe(self, connection: Connection, name: str) -> None:
        follower = connection.followers.get(name)
        if follower is None:
            return
        self._forget(connection, follower)
        presence = self._presence_topic(follower, connection.member)
        if presence and await self.broker.presence.leave(
            presence, str(connection.member.id), connection.id
        ):
            await self._announce_presence(presence)

    def _forget(self, connection: Connection, follower: Follower) -> None:
        connection.followers.pop(follower.topic, None)
        followers = self._followers.get(follower.topic)
        if followers is not None:
            followers.pop(connection, None)
            if not followers:
                del self._followers[follower.topic]
        if follower.filling is not None:
            follower.filling.cancel()

    def connect(self, connection: Connection) -> None:
        """A socket has opened; its login is checked from now on (`_sweep_logins`)."""
        self._connections.add(connection)
        if self._login_recheck > 0 and self._login_sweeper is None:
            self._login_sweeper = asyncio.create_task(self._sweep_logins())

    async def _sweep_logins(self) -> None:
        """Check again, in one query every half interval, the logins of every socket whose
        check would expire before the next sweep; close a socket whose login has ended.

        A chat send then finds its socket's login freshly checked and asks the database
        nothing about it (a batch paid a round trip for the few sockets due), and signing
        out closes the socket within the interval without waiting for its next frame.
        """
        half = self._login_recheck / 2
        while self._connections:
            await asyncio.sleep(half)
            due = {c for c in self._connections if not c.closing}
            try:
                async with self._transaction(write=False) as session:
                    users = await self._users(session, due, ahead=half)
            except Exception:
                log.warning("realtime.login_sweep_failed", exc_info=True)
                continue
            for connection, user in users.items():
                if isinstance(user, LoginEnded):
                    connection.abort(Connection.SIGN_IN_CODE)
        self._login_sweeper = None

    async def close(self) -> None:
        if self._login_sweeper is not None:
            self._login_sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._login_sweeper
            self._login_sweeper = None

    async def disconnect(self, connection: Connection) -> None:
        self._connections.discard(connection)
        connection.closing = True
        for name in list(connection.followers):
            try:
                await self.unsubscribe(connection, name)
            except Exception:
                log.exception("realtime.unsubscribe_failed", topic=name)

    async def heartbeat(self, connection: Connection) -> None:
        """Keep this socket's presence alive in every topic it follows."""
        entries = [
            (presence, str(connection.member.id), connection.id)
            for follower in connection.followers.values()
            if (presence := self._presence_topic(follower, connection.member))
        ]
        if entries:
            await self.broker.presence.refresh(entries)

    # --- delivering ----------------------------------------------------------------------

    def deliver(self, event: Event) -> None:
        """Called by the broker for every published event, in the order it received them."""
        for observer in self._taps:
            observer(event)
        followers = self._followers.get(event.topic)
        if not followers:
            return
        frame: str | None = None
        for connection, follower in list(followers.items()):
            if follower.buffer is not None:
                follower.buffer.append(event)
                if len(follower.buffer) > connection.outbox.maxsize:
                    connection.abort(Connection.OVERFLOW_CODE)
                continue
            if event.seq is None:
                frame = frame or event.encode()
                connection.push(frame)
                continue
            self._offer(connection, follower, event)

    def _offer(self, connection: Connection, follower: Follower, event: Event) -> None:
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
        topic, _ = self.topics.resolve(follower.topic)
        try:
            async with self._transaction(write=True) as session:
                user = await self._user(session, connection)
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

    async def poll(
        self, *, session: AsyncSession, user: Actor, name: str, since: int | None
    ) -> list[Event]:
        """The catch-up a subscriber would get, for a client that polls instead."""
        topic, key = self.topics.resolve(name)
        if not await topic.authorize(session=session, user=user, key=key):
            raise NotAllowed(name)
        return await topic.replay(
            session=session, user=user, key=key, since=since, limit=REPLAY_BATCH
        )

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

    async def _store(self, sends: list[PendingSend]) -> None:
        """Store a batch in one transaction (one commit, one publish). A send refused by
        the rules gets its own error without touching the others; anything else (a
        database error, a deadlock, a failed commit) rolls the batch back and each send is
        retried alone, so each gets its own answer."""
        try:
            async with self._transaction(write=True) as session:
                answers = await self._store_in(session, sends)
        except Exception:
            if len(sends) == 1:
                raise
            log.warning("realtime.send_batch_failed", size=len(sends), exc_info=True)
            for send in sends:
                await self._store_alone(send)
            return
        for send, answer in zip(sends, answers, strict=True):
            send.settle(answer)

    async def _store_alone(self, send: PendingSend) -> None:
        try:
            async with self._transaction(write=True) as session:
                (answer,) = await self._store_in(session, [send])
        except Exception as exc:
            send.settle(exc)
        else:
            send.settle(answer)

    async def _store_in(
        self, session: AsyncSession, sends: list[PendingSend]
    ) -> list[dict[str, Any] | BaseException]:
        """Hand the batch to its topics, one call per topic kind and sender language (error
        messages are in the sender's language, whoever's batch it is), keeping each
        sender's order."""
        users = await self._users(session, {send.connection for send in sends})
        answers: dict[int, dict[str, Any] | BaseException] = {}
        groups: dict[tuple[AcceptsSends, str], list[tuple[int, Incoming]]] = {}
        for index, send in enumerate(sends):
            user = users[send.connection]
            if isinstance(user, LoginEnded):
                answers[index] = user
                continue
            incoming = Incoming(user=user, key=send.key, payload=send.payload)
            groups.setdefault((send.topic, send.language), []).append((index, incoming))
        for (topic, language), group in groups.items():
            i18n.set_language(language)
            stored = await topic.send(session=session, sends=[incoming for _, incoming in group])
            answers.update(zip((index for index, _ in group), stored, strict=True))
        return [answers[index] for index in range(len(sends))]

    async def _users(
        self, session: AsyncSession, connections: set[Connection], *, ahead: float = 0.0
    ) -> dict[Connection, Member | LoginEnded]:
        """Each socket's user, the logins whose last check is older than
        `login_recheck_seconds` (or will be in `ahead` seconds) checked again in one query
        for them all."""
        now = time.monotonic()
        due: dict[uuid.UUID, list[Connection]] = {}
        for connection in connections:
            if now + ahead >= connection.login_checked_until:
                due.setdefault(connection.login_id, []).append(connection)
        logins = (
            await identity.authenticate_logins(session=session, login_ids=list(due)) if due else {}
        )
        users: dict[Connection, Member | LoginEnded] = {}
        for connection in connections:
            if connection.login_id not in due:
                users[connection] = connection.member
            elif (login := logins.get(connection.login_id)) is None:
                users[connection] = LoginEnded(str(connection.login_id))
            else:
                user = login.user
                connection.member = Member(id=user.id, name=user.name, role=user.role)
                connection.login_checked_until = now + self._login_recheck
                users[connection] = connection.member
        return users


class PresenceTopic:
    """`presence:<key>`: who is connected to `<of.kind>:<key>`; a snapshot, then changes."""

    def __init__(self, *, of: Topic, hub: Hub, kind: str = "presence") -> None:
        self.kind = kind
        self._of = of
        self._hub = hub

    async def authorize(self, *, session: AsyncSession, user: Actor, key: str) -> bool:
        return await self._of.authorize(session=session, user=user, key=key)

    async def replay(
        self, *, session: AsyncSession, user: Actor, key: str, since: int | None, limit: int
    ) -> list[Event]:
        topic = f"{self.kind}:{key}"
        users = await self._hub.broker.presence.users(topic)
        return [Event(topic=topic, type="presence.snapshot", data={"user_ids": users})]


class UserTopic:
    """`user:<id>`: things for one person (their consultations' changes, notifications)."""

    kind = "user"

    async def authorize(self, *, session: AsyncSession, user: Actor, key: str) -> bool:
        return key == str(user.id)

    async def replay(
        self, *, session: AsyncSession, user: Actor, key: str, since: int | None, limit: int
    ) -> list[Event]:
        return []
