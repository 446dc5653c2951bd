"""Fixed-window counters for throttling guesses (logins, codes).

Windows are aligned to the injectable clock (window number = now // window length), so a
test that moves time moves every window, in memory and in Redis alike. In one process the
counters live in memory; with `REDIS_URL` they live in Redis so that every server process
counts against the same budget.

When Redis does not answer, `RedisRateLimiter` counts in this process's memory instead
(`MemoryRateLimiter`) until it does: every limit is still enforced (fail closed), only
per process rather than shared, so a sign-in or a code request never fails because Redis
is down. docs/core.md ("Rate limits when Redis is down") says what that means per limit.
"""

from __future__ import annotations

import contextlib
import math
from typing import Protocol

from redis.asyncio import Redis

from clinicflow.core import clock
from clinicflow.core.outages import Outage, Unavailable


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
    """Counters in Redis, shared by every process; in this process's memory while Redis is
    down (see the module's docstring)."""

    def __init__(
        self,
        redis: Redis,
        prefix: str = "clinicflow:rl:",
        *,
        outage: Outage | None = None,
        fallback: RateLimiter | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._outage = outage or Outage("ratelimit.redis")
        self._fallback = fallback or MemoryRateLimiter()

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        name, left = _window(self._prefix + key, window_seconds)

        async def count() -> int:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, window_seconds)
                hits, _ = await pipe.execute()
            return int(hits)

        try:
            return await self._outage.call(count), left
        except Unavailable:
            return await self._fallback.hit(key, window_seconds)

    async def release(self, key: str, window_seconds: int) -> None:
        # Given back in both places, as the hit may have been counted in either; never
        # below zero in Redis (a hit counted in memory has nothing to give back there).
        await self._fallback.release(key, window_seconds)
        name, _ = _window(self._prefix + key, window_seconds)
        with contextlib.suppress(Unavailable):
            await self._outage.call(lambda: self._redis.eval(_RELEASE, 1, name))

    async def clear(self, key: str, window_seconds: int) -> None:
        await self._fallback.clear(key, window_seconds)
        name, _ = _window(self._prefix + key, window_seconds)
        with contextlib.suppress(Unavailable):
            await self._outage.call(lambda: self._redis.delete(name))


# Decrement only a counter that exists and is above zero: a bare DECR of a missing key
# would create it at -1 with no expiry, an extra attempt for whoever comes next.
_RELEASE = """
local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
if hits > 0 then redis.call('DECR', KEYS[1]) end
return hits
"""
