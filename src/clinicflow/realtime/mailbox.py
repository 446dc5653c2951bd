"""A bounded queue of frames whose every wait ends when it is closed.

`asyncio.Queue` has no close: a catch-up awaiting `put` on the outbox of a socket whose
writer had died waited forever, holding its batch of events and keeping the server from
shutting down. A socket's outbox (frames to send) and inbox (frames received) are
`Mailbox`es, closed when the socket ends, so nothing waits on a socket that is gone.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class MailboxClosed(Exception):
    """The mailbox was closed (its socket ended) while waiting on it, or before."""


class Mailbox(Generic[T]):
    """A FIFO of at most `maxsize` items; `close()` drops what it holds and wakes every
    waiter, which then raises `MailboxClosed`."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.closed = False
        self._items: deque[T] = deque()
        self._not_empty = asyncio.Event()
        self._not_full = asyncio.Event()
        self._not_full.set()

    def __len__(self) -> int:
        return len(self._items)

    def full(self) -> bool:
        return len(self._items) >= self.maxsize

    def put_nowait(self, item: T) -> bool:
        """Add `item` unless the mailbox is full (False) or closed (dropped, True: there
        is nobody left to complain to)."""
        if self.closed:
            return True
        if self.full():
            return False
        self._items.append(item)
        self._not_empty.set()
        return True

    async def put(self, item: T) -> None:
        """Add `item`, waiting for room; raises `MailboxClosed` once closed."""
        while not self.closed and self.full():
            self._not_full.clear()
            await self._not_full.wait()
        if self.closed:
            raise MailboxClosed
        self._items.append(item)
        self._not_empty.set()

    async def get(self) -> T:
        """The oldest item, waiting for one; raises `MailboxClosed` once closed."""
        while not self._items:
            if self.closed:
                raise MailboxClosed
            self._not_empty.clear()
            await self._not_empty.wait()
        item = self._items.popleft()
        self._not_full.set()
        return item

    def close(self) -> None:
        """Drop what is held (its memory goes now, not when the socket's objects do) and
        end every wait."""
        self.closed = True
        self._items.clear()
        self._not_empty.set()
        self._not_full.set()
