"""Brokers carry published events to every process's hub and keep presence.

In-process (the default) serves one process; Redis serves many, so a message sent to one
server process reaches a follower connected to another. Both speak `Broker`, so the hub
and the services never know which one runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Collection, Iterable
from typing import Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from clinicflow.realtime.events import Event

log = structlog.get_logger(__name__)

Deliver = Callable[[Event], None]


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

    def attach(self, deliver: Deliver) -> None:
        """Give the broker this process's hub; it calls `deliver` once per event."""
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

    def attach(self, deliver: Deliver) -> None:
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
    """One sorted set per topic: member `user|connection`, score the expiry time."""

    def __init__(self, redis: Redis, *, prefix: str, ttl: float) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl

    def _key(self, topic: str) -> str:
        return f"{self._prefix}:presence:{topic}"

    async def _users(self, key: str) -> set[str]:
        now = time.time()
        members = await self._redis.zrangebyscore(key, now, "+inf")
        return {_user_of(member) for member in members}

    async def join(self, topic: str, user_id: str, connection_id: str) -> bool:
        key = self._key(topic)
        before = await self._users(key)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {f"{user_id}|{connection_id}": time.time() + self._ttl})
            pipe.expire(key, int(self._ttl) + 1)
            await pipe.execute()
        return user_id not in before

    async def leave(self, topic: str, user_id: str, connection_id: str) -> bool:
        key = self._key(topic)
        await self._redis.zrem(key, f"{user_id}|{connection_id}")
        return user_id not in await self._users(key)

    async def refresh(self, topics: Iterable[tuple[str, str, str]]) -> None:
        expires = time.time() + self._ttl
        async with self._redis.pipeline(transaction=False) as pipe:
            for topic, user_id, connection_id in topics:
                key = self._key(topic)
                pipe.zadd(key, {f"{user_id}|{connection_id}": expires})
                pipe.zremrangebyscore(key, "-inf", time.time())
                pipe.expire(key, int(self._ttl) + 1)
            await pipe.execute()

    async def users(self, topic: str) -> list[str]:
        return sorted(await self._users(self._key(topic)))

    async def users_of(self, topics: Collection[str]) -> dict[str, set[str]]:
        ordered = list(topics)
        now = time.time()
        async with self._redis.pipeline(transaction=False) as pipe:
            for topic in ordered:
                pipe.zrangebyscore(self._key(topic), now, "+inf")
            found = await pipe.execute()
        return {
            topic: {_user_of(member) for member in members}
            for topic, members in zip(ordered, found, strict=True)
        }


def _user_of(member: object) -> str:
    text = member.decode() if isinstance(member, bytes) else str(member)
    return text.partition("|")[0]


class RedisBroker:
    """Publishes to one Redis channel that every process listens to.

    One channel for all topics keeps subscribing free of races (a process hears everything
    from the moment it starts) at the cost of each process filtering what it receives;
    that is cheap for a handful of processes, and sharding by topic is the next step.
    """

    RECONNECT_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)

    def __init__(self, redis: Redis, *, channel: str, presence_ttl: float) -> None:
        self._redis = redis
        self._channel = channel
        self.presence: Presence = RedisPresence(redis, prefix=channel, ttl=presence_ttl)
        self._deliver: Deliver | None = None
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def attach(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def start(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="realtime-redis-listener")
        await self._ready.wait()

    async def publish(self, events: list[Event]) -> None:
        """Publish, trying again briefly: the change is already stored, so giving up means
        followers learn of it only at their next gap fill or resubscribe."""
        for attempt, delay in enumerate((*self.RECONNECT_SECONDS[:3], None)):
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for event in events:
                        pipe.publish(self._channel, event.encode())
                    await pipe.execute()
                return
            except (RedisError, OSError):
                if delay is None:
                    raise
                log.warning("realtime.publish_retry", attempt=attempt + 1, retry_in=delay)
                await asyncio.sleep(delay)

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._ready.set()
                    failures = 0
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._receive(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError):
                # Followers' gap detection asks the database for what was missed.
                delay = self.RECONNECT_SECONDS[min(failures, len(self.RECONNECT_SECONDS) - 1)]
                failures += 1
                log.warning("realtime.redis_lost", retry_in=delay)
                await asyncio.sleep(delay)

    def _receive(self, raw: bytes) -> None:
        try:
            event = Event.decode(raw)
        except (ValueError, KeyError, TypeError):
            log.exception("realtime.redis_bad_event")
            return
        if self._deliver is not None:
            self._deliver(event)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
