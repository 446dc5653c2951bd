"""Fixed-window counters for throttling guesses (logins, codes).

Windows are aligned to the injectable clock (window number = now // window length), so a
test that moves time moves every window, in memory and in Redis alike. In one process the
counters live in memory; with `REDIS_URL` they live in Redis so that every server process
counts against the same budget.
"""

from __future__ import annotations

import math
from typing import Protocol

from redis.asyncio import Redis

from clinicflow.core import clock


def _window(key: str, window_seconds: int) -> tuple[str, int]:
    """The current window's storage key and the seconds until it ends."""
    now = clock.now().timestamp()
    number = math.floor(now / window_seconds)
    left = max(1, math.ceil((number + 1) * window_seconds - now))
    return f"{key}:{window_seconds}:{number}", left


class RateLimiter(Protocol):
    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Add one hit: (hits in the current window, seconds until it ends)."""
        ...

    async def release(self, key: str, window_seconds: int) -> None:
        """Give back one hit (an attempt that turned out to be legitimate)."""
        ...

    async def clear(self, key: str, window_seconds: int) -> None: ...


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._hits: dict[str, int] = {}
        self._ends: dict[str, float] = {}

    def _forget_ended(self) -> None:
        now = clock.now().timestamp()
        for name in [name for name, end in self._ends.items() if end <= now]:
            del self._ends[name], self._hits[name]

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        self._forget_ended()
        name, left = _window(key, window_seconds)
        self._hits[name] = self._hits.get(name, 0) + 1
        self._ends[name] = clock.now().timestamp() + left
        return self._hits[name], left

    async def release(self, key: str, window_seconds: int) -> None:
        name, _ = _window(key, window_seconds)
        if self._hits.get(name, 0) > 0:
            self._hits[name] -= 1

    async def clear(self, key: str, window_seconds: int) -> None:
        name, _ = _window(key, window_seconds)
        self._hits.pop(name, None)
        self._ends.pop(name, None)


class RedisRateLimiter:
    def __init__(self, redis: Redis, prefix: str = "clinicflow:rl:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        name, left = _window(self._prefix + key, window_seconds)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_seconds)
            hits, _ = await pipe.execute()
        return int(hits), left

    async def release(self, key: str, window_seconds: int) -> None:
        name, _ = _window(self._prefix + key, window_seconds)
        await self._redis.decr(name)

    async def clear(self, key: str, window_seconds: int) -> None:
        name, _ = _window(self._prefix + key, window_seconds)
        await self._redis.delete(name)
