"""This process's fan-out, in the order events were received, after the answer that caused
them has gone out.

A request that changes a queue followed by 1,000 patients publishes one event on commit;
handing it to 1,000 sockets there and then made the doctor's own answer wait for every one
of those writes (docs/performance.md, "Queue fan-out"). So an HTTP request *holds* the
fan-out of what it publishes (`holding`): the events are stored and published on commit as
before (Redis gets them at once, so other processes are not held up), and this process's
followers get them as soon as the answer has been written (`Hold.release`, which the route
runs after the response), or `MAX_HOLD_SECONDS` after commit should the answer never be
sent.

Order is kept: every event this process receives (published here, held or not, or arriving
from Redis) joins one queue and leaves it in the order it joined, so an event never
overtakes one received before it; what is behind a held event waits for its release.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import structlog

from clinicflow.realtime.events import Event

log = structlog.get_logger(__name__)

# The longest an event waits for its answer to be sent (a client that never reads it).
MAX_HOLD_SECONDS = 1.0


@dataclass(eq=False)
class Hold:
    """One request's events, kept from this process's followers until `release`."""

    released: bool = False
    _waiting: list[Callable[[], None]] = field(default_factory=list)

    def release(self) -> None:
        """The answer is out (or will never be): let the events go. Safe to call again."""
        if self.released:
            return
        self.released = True
        waiting, self._waiting = self._waiting, []
        for drain in waiting:
            drain()

    @property
    def pending(self) -> bool:
        """Whether events wait for this hold."""
        return bool(self._waiting)

    def on_release(self, drain: Callable[[], None]) -> None:
        if not self._waiting:
            asyncio.get_running_loop().call_later(MAX_HOLD_SECONDS, self.release)
        self._waiting.append(drain)


_current: ContextVar[Hold | None] = ContextVar("clinicflow_fanout_hold", default=None)


@contextmanager
def holding() -> Iterator[Hold]:
    """Hold the local fan-out of whatever is published inside the block until the hold
    is released; the caller must release it (after its answer, and on every error)."""
    hold = Hold()
    token = _current.set(hold)
    try:
        yield hold
    finally:
        _current.reset(token)


class FanOut:
    """Hands each event to `deliver` in arrival order, an event held by a request (and
    everything behind it) once that request's hold is released."""

    def __init__(self, deliver: Callable[[Event], None]) -> None:
        self._deliver = deliver
        self._queue: deque[tuple[Hold | None, Event]] = deque()

    def receive(self, event: Event) -> None:
        """The broker's callback for every event this process receives."""
        hold = _current.get()
        if hold is not None and hold.released:
            hold = None
        if hold is None and not self._queue:
            self._deliver(event)
            return
        self._queue.append((hold, event))
        if hold is not None:
            hold.on_release(self._drain)

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            hold, event = queue[0]
            if hold is not None and not hold.released:
                return
            queue.popleft()
            try:
                self._deliver(event)
            except Exception:
                # One event's failure must not keep the ones behind it from their followers.
                log.exception("realtime.fanout_failed", topic=event.topic, type=event.type)
