"""Brokers carry published events to every process's hub and keep presence.

In-process (the default) serves one process; Redis serves many, so a message sent to one
server process reaches a follower connected to another. Both speak `Broker`, so the hub
and the services never know which one runs.

A Redis outage stops only what needs Redis: an event always reaches this process's own
followers at once (it never goes round through Redis), presence falls back to what this
process knows, and what other processes missed is made good from the database when Redis
is back (`RedisBroker`; docs/realtime.md, "When Redis is down").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable, Collection, Coroutine, Iterable
from typing import Any, Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from clinicflow.core.outages import Outage, Unavailable
from clinicflow.realtime.events import Event

log = structlog.get_logger(__name__)

Deliver = Callable[[Event], None]
# Bring this process's followers of these topics (all of them: None) up to date from the
# database: events published meanwhile may not have reached this process.
Resync = Callable[[Collection[str] | None], Coroutine[Any, Any, None]]


class Presence(Protocol):
    """Who is connected to a topic, from any tab of any process.

    Members are (user, connection) pairs that expire unless refreshed, so a process that
    dies without saying goodbye drops out after `ttl` seconds.
    """

    async def join(self, topic: str, user_id: str, connection_id: str) -> bool:
        """Add the pair; True when the set of users changed."""
        ...

    async def leave(self, topic: str, user_id: str, connection_id: str) -> bool: ...

    async def refresh(self, topics: Iterable[tuple[str, str, str]]) -> None: ...

    async def users(self, topic: str) -> list[str]: ...

    async def users_of(self, topics: Collection[str]) -> dict[str, set[str]]:
        """`users` of many topics in one go (one round trip to Redis)."""
        ...


class Broker(Protocol):
    presence: Presence

    def attach(self, deliver: Deliver, resync: Resync | None = None) -> None:
        """Give the broker this process's hub; it calls `deliver` once per event, and
        `resync` when events may have been missed (Redis was unreachable)."""
        ...

    async def start(self) -> None:
        """Begin receiving; safe to call more than once."""
        ...

    async def publish(self, events: list[Event]) -> None: ...

    async def close(self) -> None: ...


class MemoryPresence:
    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._members: dict[str, dict[tuple[str, str], float]] = {}

    def _live(self, topic: str) -> dict[tuple[str, str], float]:
        members = self._members.setdefault(topic, {})
        now = time.monotonic()
        for member in [m for m, expires in members.items() if expires <= now]:
            del members[member]
        return members

    def _user_set(self, topic: str) -> set[str]:
        return {user for user, _ in self._live(topic)}

    async def join(self, topic: str, user_id: str, connection_id: str) -> bool:
        before = self._user_set(topic)
        self._live(topic)[(user_id, connection_id)] = time.monotonic() + self._ttl
        return user_id not in before

    async def leave(self, topic: str, user_id: str, connection_id: str) -> bool:
        members = self._live(topic)
        members.pop((user_id, connection_id), None)
        changed = user_id not in {user for user, _ in members}
        if not members:
            del self._members[topic]
        return changed

    async def refresh(self, topics: Iterable[tuple[str, str, str]]) -> None:
        for topic, user_id, connection_id in topics:
            self._live(topic)[(user_id, connection_id)] = time.monotonic() + self._ttl

    async def users(self, topic: str) -> list[str]:
        return sorted(self._user_set(topic))

    async def users_of(self, topics: Collection[str]) -> dict[str, set[str]]:
        return {topic: self._user_set(topic) for topic in topics}


class MemoryBroker:
    """Hands each event straight to this process's hub."""

    def __init__(self, *, presence_ttl: float) -> None:
        self.presence: Presence = MemoryPresence(presence_ttl)
        self._deliver: Deliver | None = None

    def attach(self, deliver: Deliver, resync: Resync | None = None) -> None:
        # Nothing is ever missed in one process.
        self._deliver = deliver

    async def start(self) -> None:
        return None

    async def publish(self, events: list[Event]) -> None:
        if self._deliver is not None:
            for event in events:
                self._deliver(event)

    async def close(self) -> None:
        return None


class RedisPresence:
    """One sorted set per topic: member `user|connection`, score the expiry time.

    This process's own members are also kept in memory, and while Redis is down every
    answer comes from there: presence then means "present on this process", and someone
    present only elsewhere counts as away (so a notification step notifies rather than
    stays silent). Heartbeats write the members back once Redis returns.
    """

    def __init__(self, redis: Redis, *, prefix: str, ttl: float, outage: Outage) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl
        self._outage = outage
        self._local = MemoryPresence(ttl)

    def _key(self, topic: str) -> str:
        return f"{self._prefix}:presence:{topic}"

    async def _users(self, key: str) -> set[str]:
        now = time.time()
        members = await self._redis.zrangebyscore(key, now, "+inf")
        return {_user_of(member) for member in members}

    async def join(self, topic: str, user_id: str, connection_id: str) -> bool:
        changed_here = await self._local.join(topic, user_id, connection_id)
        key = self._key(topic)

        async def join() -> bool:
            before = await self._users(key)
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zadd(key, {f"{user_id}|{connection_id}": time.time() + self._ttl})
                pipe.expire(key, int(self._ttl) + 1)
                await pipe.execute()
            return user_id not in before

        try:
            return await self._outage.call(join)
        except Unavailable:
            return changed_here

    async def leave(self, topic: str, user_id: str, connection_id: str) -> bool:
        changed_here = await self._local.leave(topic, user_id, connection_id)
        key = self._key(topic)

        async def leave() -> bool:
            await self._redis.zrem(key, f"{user_id}|{connection_id}")
            return user_id not in await self._users(key)

        try:
            return await self._outage.call(leave)
        except Unavailable:
            return changed_here

    async def refresh(self, topics: Iterable[tuple[str, str, str]]) -> None:
        entries = list(topics)
        await self._local.refresh(entries)
        expires = time.time() + self._ttl

        async def refresh() -> None:
            async with self._redis.pipeline(transaction=False) as pipe:
                for topic, user_id, connection_id in entries:
                    key = self._key(topic)
                    pipe.zadd(key, {f"{user_id}|{connection_id}": expires})
                    pipe.zremrangebyscore(key, "-inf", time.time())
                    pipe.expire(key, int(self._ttl) + 1)
                await pipe.execute()

        with contextlib.suppress(Unavailable):
            await self._outage.call(refresh)

    async def users(self, topic: str) -> list[str]:
        try:
            return sorted(await self._outage.call(lambda: self._users(self._key(topic))))
        except Unavailable:
            return await self._local.users(topic)

    async def users_of(self, topics: Collection[str]) -> dict[str, set[str]]:
        ordered = list(topics)

        async def users_of() -> dict[str, set[str]]:
            now = time.time()
            async with self._redis.pipeline(transaction=False) as pipe:
                for topic in ordered:
                    pipe.zrangebyscore(self._key(topic), now, "+inf")
                found = await pipe.execute()
            return {
                topic: {_user_of(member) for member in members}
                for topic, members in zip(ordered, found, strict=True)
            }

        try:
            return await self._outage.call(users_of)
        except Unavailable:
            return await self._local.users_of(ordered)


def _user_of(member: object) -> str:
    text = member.decode() if isinstance(member, bytes) else str(member)
    return text.partition("|")[0]


# What travels on the channel: a tag, the publishing process's origin, a newline, then an
# event's frame (`e`) or the JSON list of topics a process could not publish to while
# Redis was down (`r`, "read these from the database"; `"*"` for all of them).
_EVENT = b"e"
_RESYNC = b"r"
_ORIGIN_BYTES = 16


class RedisBroker:
    """Publishes to one Redis channel that every process listens to.

    One channel for all topics keeps subscribing free of races (a process hears everything
    from the moment it starts) at the cost of each process filtering what it receives;
    that is cheap for a handful of processes, and sharding by topic is the next step.

    An event is delivered to this process's followers directly, before it goes to Redis,
    and a process skips its own events when Redis echoes them; so local followers never
    wait for, or depend on, Redis. When Redis is unreachable:

    - publishing notes the topics it could not reach (at most `MISSED_TOPICS`, then "all")
      and, once Redis answers again, publishes one resync notice naming them: every other
      process reads those topics' followers up to date from the database (durable events
      by `seq`, so nothing twice; snapshot topics get a fresh snapshot);
    - the listener reconnects by itself with backoff, and on coming back (including when
      redis-py re-subscribed on its own) resyncs all of this process's followers, since it
      may have missed anyone's events;
    - the `Outage` logs one warning for the outage and one line when it ends.
    """

    RECONNECT_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)
    MISSED_TOPICS = 10_000
    RESYNC_CHUNK = 500
    # How long `start` waits for the first subscription; a down Redis must not hold up
    # subscribing on this process (the resync on connecting covers what came before).
    SETTLE_SECONDS = 2.0

    def __init__(
        self,
        redis: Redis,
        *,
        channel: str,
        presence_ttl: float,
        outage: Outage | None = None,
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._outage = outage or Outage("realtime.redis")
        self.presence: Presence = RedisPresence(
            redis, prefix=channel, ttl=presence_ttl, outage=self._outage
        )
        self._origin = secrets.token_hex(_ORIGIN_BYTES // 2).encode()
        self._deliver: Deliver | None = None
        self._resync: Resync | None = None
        self._listener: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()
        self._missed: set[str] = set()
        self._missed_all = False
        self._announcer: asyncio.Task[None] | None = None
        self._back = asyncio.Event()  # the listener has (re)subscribed
        self._resyncs: set[asyncio.Task[None]] = set()

    def attach(self, deliver: Deliver, resync: Resync | None = None) -> None:
        self._deliver = deliver
        self._resync = resync

    async def start(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="realtime-redis-listener")
        if not self._settled.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.SETTLE_SECONDS):
                    await self._settled.wait()

    async def publish(self, events: list[Event]) -> None:
        """Deliver here, then to the other processes through Redis; never fails: the change
        is stored, and if Redis cannot take it now the other processes are told to read it
        from the database once it can."""
        if self._deliver is not None:
            for event in events:
                self._deliver(event)
        if self._announcer is None:
            frames = [self._tagged(_EVENT, event.encode().encode()) for event in events]
            try:
                await self._outage.call(lambda: self._send(frames))
                return
            except Unavailable:
                pass
        # Redis is down, or a notice of what was missed is still waiting to go out (the
        # notice, sent after this commit, covers these events too).
        self._miss(event.topic for event in events)

    def _tagged(self, tag: bytes, body: bytes) -> bytes:
        return tag + self._origin + b"\n" + body

    async def _send(self, frames: list[bytes]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for frame in frames:
                pipe.publish(self._channel, frame)
            await pipe.execute()

    def _miss(self, topics: Iterable[str]) -> None:
        self._note(topics)
        if self._announcer is None:
            self._announcer = asyncio.create_task(self._announce(), name="realtime-redis-announcer")

    def _note(self, topics: Iterable[str]) -> None:
        if not self._missed_all:
            self._missed.update(topics)
            if len(self._missed) > self.MISSED_TOPICS:
                self._missed_all, self._missed = True, set()

    def _notices(self, topics: set[str], everything: bool) -> list[bytes]:
        if everything:
            return [self._tagged(_RESYNC, b'"*"')]
        ordered = sorted(topics)
        return [
            self._tagged(_RESYNC, json.dumps(ordered[i : i + self.RESYNC_CHUNK]).encode())
            for i in range(0, len(ordered), self.RESYNC_CHUNK)
        ]

    async def _announce(self) -> None:
        """Until Redis takes it, try (with backoff, and at once when the listener is
        back) to publish the notice of every topic this process could not publish to;
        publishing resumes once it has gone out."""
        failures = 0
        try:
            while self._missed or self._missed_all:
                self._back.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._backoff(failures)):
                        await self._back.wait()
                topics, everything = self._missed, self._missed_all
                self._missed, self._missed_all = set(), False
                try:
                    notices = self._notices(topics, everything)
                    await self._outage.call(lambda: self._send(notices))  # noqa: B023 (called here)
                except Unavailable:
                    failures += 1
                    self._missed_all = self._missed_all or everything
                    self._note(topics)
                else:
                    failures = 0
        finally:
            self._announcer = None

    def _backoff(self, failures: int) -> float:
        return self.RECONNECT_SECONDS[min(failures, len(self.RECONNECT_SECONDS) - 1)]

    async def _listen(self) -> None:
        failures = 0
        subscribed_before = False
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    async for message in pubsub.listen():
                        kind = message["type"]
                        if kind == "message":
                            self._receive(message["data"])
                        elif kind == "subscribe":
                            # Every confirmation after the first is a return: ours after
                            # a failure, or redis-py's own re-subscribe after a reconnect.
                            self._outage.ok()
                            self._back.set()
                            if subscribed_before:
                                self._recover(None)
                            subscribed_before = True
                            failures = 0
                            self._settled.set()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                self._outage.lost(error)
                self._settled.set()
                # Subscribing again counts as a return, and resyncs.
                subscribed_before = True
                delay = self._backoff(failures)
                failures += 1
                log.debug("realtime.redis_retry", retry_in=delay)
                await asyncio.sleep(delay)

    def _receive(self, raw: bytes) -> None:
        tag, origin, body = raw[:1], raw[1 : 1 + _ORIGIN_BYTES], raw[2 + _ORIGIN_BYTES :]
        if origin == self._origin:
            return  # delivered here when it was published
        try:
            if tag == _EVENT:
                event = Event.decode(body)
            elif tag == _RESYNC:
                topics = json.loads(body)
                self._recover(None if topics == "*" else set(topics))
                return
            else:
                raise ValueError(tag)
        except (ValueError, KeyError, TypeError):
            log.exception("realtime.redis_bad_event")
            return
        if self._deliver is not None:
            self._deliver(event)

    def _recover(self, topics: Collection[str] | None) -> None:
        if self._resync is None:
            return
        task = asyncio.create_task(self._resync(topics), name="realtime-resync")
        self._resyncs.add(task)
        task.add_done_callback(self._resyncs.discard)

    async def close(self) -> None:
        tasks = [*self._resyncs]
        tasks += [task for task in (self._listener, self._announcer) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._listener = self._announcer = None
