"""Closing sockets whose client stopped reading.

A client that stops reading (a phone that lost signal mid catch-up, a tab frozen by the
browser) fills the server's send buffer; the send in progress then waits for the network,
and with it anything waiting on that socket's outbox. Rather than a timer per frame sent
(the chat's hot path), each socket's writer notes when its current send began
(`Connection.sending_since`) and one sweep for all sockets closes those stuck longer than
`ws_send_stall_seconds` with 1013: the client reconnects and resumes from its last `seq`.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from clinicflow.realtime.connections import Connection

log = structlog.get_logger(__name__)

# The sweep runs this many times per stall bound, so a stuck socket is closed between
# `stall` and `stall * (1 + 1/SWEEPS_PER_BOUND)` after its send began.
SWEEPS_PER_BOUND = 4


class Stalls:
    """The open sockets, and the sweep that closes those whose send makes no progress."""

    def __init__(self, *, stall_seconds: float) -> None:
        self._stall = stall_seconds
        self._connections: set[Connection] = set()
        self._sweeper: asyncio.Task[None] | None = None

    def connect(self, connection: Connection) -> None:
        self._connections.add(connection)
        if self._stall > 0 and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())

    def disconnect(self, connection: Connection) -> None:
        self._connections.discard(connection)

    def stalled(self, now: float) -> list[Connection]:
        """The sockets whose current send began more than the bound before `now`."""
        return [
            connection
            for connection in self._connections
            if connection.sending_since is not None
            and now - connection.sending_since > self._stall
            and not connection.closing
        ]

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while self._connections:
            await asyncio.sleep(self._stall / SWEEPS_PER_BOUND)
            for connection in self.stalled(loop.time()):
                log.info("realtime.send_stalled", connection=connection.id)
                connection.abort(Connection.STALLED_CODE)
        self._sweeper = None

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
