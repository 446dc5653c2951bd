"""Knowing that a shared dependency (Redis) is down, saying so once, and not asking it again
on every call while it stays down.

Each part that uses Redis (the rate limiter, the realtime broker and its presence) falls
back to something local when Redis fails. Without a common notion of "down", every
request during an outage would first wait for a refused connection and then log its own
warning: a flood in the logs and a delay on every call. An `Outage` logs one warning when
the dependency is lost and one line when it answers again, and between the two lets a
caller try it at most once per `probe_seconds`, so the fallback is taken at once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

T = TypeVar("T")


class Unavailable(Exception):
    """The dependency is down: known to be, or it just failed."""


class Outage:
    """Whether `name` is down; one warning per outage, one info when it is back."""

    def __init__(
        self,
        name: str,
        *,
        probe_seconds: float = 1.0,
        errors: tuple[type[BaseException], ...] = (RedisError, OSError),
    ) -> None:
        self.name = name
        self._errors = errors
        self._probe_seconds = probe_seconds
        self._down_since: float | None = None
        self._last_try = 0.0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def should_try(self) -> bool:
        """Whether to ask the dependency now: always while it is up; while it is down, once
        per `probe_seconds`, so that its return is noticed without every call paying for a
        refused connection."""
        if self._down_since is None:
            return True
        now = time.monotonic()
        if now - self._last_try >= self._probe_seconds:
            self._last_try = now
            return True
        return False

    def lost(self, error: BaseException | None = None) -> None:
        """A call failed. The first failure of an outage is the one that is logged."""
        now = time.monotonic()
        self._last_try = now
        if self._down_since is None:
            self._down_since = now
            log.warning(f"{self.name}.lost", error=repr(error) if error else None)

    def ok(self) -> None:
        """A call succeeded: the outage, if any, is over."""
        if self._down_since is not None:
            seconds = round(time.monotonic() - self._down_since, 1)
            self._down_since = None
            log.info(f"{self.name}.back", down_seconds=seconds)

    async def call(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call`'s answer, or `Unavailable` when the dependency is down (without calling it
        between probes) or fails now; the caller then takes its fallback."""
        if not self.should_try():
            raise Unavailable(self.name)
        try:
            result = await call()
        except self._errors as error:
            self.lost(error)
            raise Unavailable(self.name) from error
        self.ok()
        return result
