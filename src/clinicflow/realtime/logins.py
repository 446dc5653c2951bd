"""Whether each open socket's login still holds.

A socket is authenticated once, when it opens; after that its login (signed out? user
deactivated?) is checked again at most every `login_recheck_seconds`, for every socket due
in one query, so neither a chat send nor a subscribe pays a look-up of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.identity import service as identity
from clinicflow.realtime.connections import Connection, Member, Transaction

log = structlog.get_logger(__name__)


class LoginEnded(Exception):
    """The socket's login was signed out or its user deactivated since it connected."""


class Logins:
    """The open sockets whose login is checked, and the sweep that checks them."""

    def __init__(self, *, transaction: Transaction, recheck_seconds: float) -> None:
        self._login_recheck = recheck_seconds
        self._transaction = transaction
        self._connections: set[Connection] = set()
        self._login_sweeper: asyncio.Task[None] | None = None
        # Told of a socket whose user's role changed since the last check (the hub
        # decides its topics again: `reauthorize`).
        self.role_changed: Callable[[Connection], None] | None = None

    def connect(self, connection: Connection) -> None:
        """A socket has opened; its login is checked from now on (`_sweep_logins`)."""
        self._connections.add(connection)
        if self._login_recheck > 0 and self._login_sweeper is None:
            self._login_sweeper = asyncio.create_task(self._sweep_logins())

    def disconnect(self, connection: Connection) -> None:
        self._connections.discard(connection)

    def connections(self) -> list[Connection]:
        """The open sockets of this process."""
        return list(self._connections)

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
                    users = await self.users(session, due, ahead=half)
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

    async def user(self, session: AsyncSession, connection: Connection) -> Actor:
        """The socket's user, with its login checked again when the last check is older
        than `login_recheck_seconds` (a query per frame would dominate a chat message)."""
        user = (await self.users(session, {connection}))[connection]
        if isinstance(user, LoginEnded):
            raise user
        return user

    async def users(
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
                before = connection.member
                connection.member = Member(id=user.id, name=user.name, role=user.role)
                connection.login_checked_until = now + self._login_recheck
                users[connection] = connection.member
                if before.role is not user.role and self.role_changed is not None:
                    self.role_changed(connection)
        return users
