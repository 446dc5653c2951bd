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

Order is kept per topic, the order a follower sees (each topic has its own sequence): an
event on a topic with a held event waiting (published here or arriving from Redis) queues
behind it and leaves in the order it joined. Other topics are not held up, so an answer
that is never written (its client gone) delays only its own topics, for at most
`MAX_HOLD_SECONDS`, never the chat of every other consultation in the process.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial

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
    """Hands each event to `deliver` in its topic's arrival order, an event held by a
    request (and everything behind it on its topic) once that request's hold is released."""

    def __init__(self, deliver: Callable[[Event], None]) -> None:
        self._deliver = deliver
        # Only topics with something waiting have a queue; the rest deliver at once.
        self._queues: dict[str, deque[tuple[Hold | None, Event]]] = {}

    def receive(self, event: Event) -> None:
        """The broker's callback for every event this process receives."""
        hold = _current.get()
        if hold is not None and hold.released:
            hold = None
        queue = self._queues.get(event.topic)
        if hold is None and queue is None:
            self._deliver(event)
            return
        if queue is None:
            queue = self._queues[event.topic] = deque()
        queue.append((hold, event))
        if hold is not None:
            hold.on_release(partial(self._drain, event.topic))

    def _drain(self, topic: str) -> None:
        queue = self._queues.get(topic)
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
        self._queues.pop(topic, None)
