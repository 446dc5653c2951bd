"""Group commit of `send` frames: the queue they wait in, its writers, and storing one batch
in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import i18n
from clinicflow.realtime.connections import Connection, Transaction
from clinicflow.realtime.logins import LoginEnded, Logins
from clinicflow.realtime.topics import AcceptsSends, Incoming

log = structlog.get_logger(__name__)

MAX_SEND_BATCH = 200


@dataclass(eq=False)
class PendingSend:
    """A `send` frame waiting for the writer, and where its answer goes."""

    connection: Connection
    topic: AcceptsSends
    key: str
    payload: Mapping[str, Any]
    language: str
    answer: asyncio.Future[dict[str, Any]]

    def settle(self, answer: dict[str, Any] | BaseException) -> None:
        if self.answer.done():
            return
        if isinstance(answer, BaseException):
            self.answer.set_exception(answer)
        else:
            self.answer.set_result(answer)


class SendQueue:
    """Group commit: a writer stores every send that arrived while it was busy in one
    transaction. Each chat message alone paid a transaction (begin, commit, and on SQLite
    the one writer's turn); at hundreds of messages a second those were most of the cost.

    Up to `writers` batches are stored at once. On a server database a batch spends most
    of its time waiting (round trips, the commit's flush to disk), and the next one can be
    taken meanwhile; SQLite has one writer whatever we do, so there it is one. Writers run
    only while there is work and are started by the sends.
    """

    def __init__(
        self,
        store: Callable[[list[PendingSend]], Awaitable[None]],
        *,
        max_batch: int = MAX_SEND_BATCH,
        writers: int = 1,
    ) -> None:
        self._store = store
        self._max_batch = max_batch
        self._most_writers = writers
        self._waiting: list[PendingSend] = []
        self._writers: set[asyncio.Task[None]] = set()

    def put(self, send: PendingSend) -> None:
        self._waiting.append(send)
        if len(self._writers) < self._most_writers:
            self._writers.add(asyncio.create_task(self._write()))

    async def _write(self) -> None:
        me = asyncio.current_task()
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                try:
                    await self._store(batch)
                except Exception as exc:
                    for send in batch:
                        send.settle(exc)
                except BaseException:
                    for send in batch:
                        send.answer.cancel()
                    raise
        finally:
            # Leaving the set at once (not in a done callback) means a send put after the
            # last look at `_waiting` always finds room to start a writer.
            self._writers.discard(me)
            if not self._writers:
                # Cancelled with sends still waiting (shutdown): they must not hang.
                for send in self._waiting:
                    send.answer.cancel()
                self._waiting.clear()


class SendStore:
    """What a writer does with a batch: hand it to its topics in one transaction, with each
    sender's login as the login sweep last saw it."""

    def __init__(self, *, transaction: Transaction, logins: Logins) -> None:
        self._transaction = transaction
        self._logins = logins

    async def store(self, sends: list[PendingSend]) -> None:
        """Store a batch in one transaction (one commit, one publish). A send refused by
        the rules gets its own error without touching the others; anything else (a
        database error, a deadlock, a failed commit) rolls the batch back and each send is
        retried alone, so each gets its own answer."""
        try:
            async with self._transaction(write=True) as session:
                answers = await self._store_in(session, sends)
        except Exception:
            if len(sends) == 1:
                raise
            log.warning("realtime.send_batch_failed", size=len(sends), exc_info=True)
            for send in sends:
                await self._store_alone(send)
            return
        for send, answer in zip(sends, answers, strict=True):
            send.settle(answer)

    async def _store_alone(self, send: PendingSend) -> None:
        try:
            async with self._transaction(write=True) as session:
                (answer,) = await self._store_in(session, [send])
        except Exception as exc:
            send.settle(exc)
        else:
            send.settle(answer)

    async def _store_in(
        self, session: AsyncSession, sends: list[PendingSend]
    ) -> list[dict[str, Any] | BaseException]:
        """Hand the batch to its topics, one call per topic kind and sender language (error
        messages are in the sender's language, whoever's batch it is), keeping each
        sender's order."""
        users = await self._logins.users(session, {send.connection for send in sends})
        answers: dict[int, dict[str, Any] | BaseException] = {}
        groups: dict[tuple[AcceptsSends, str], list[tuple[int, Incoming]]] = {}
        for index, send in enumerate(sends):
            user = users[send.connection]
            if isinstance(user, LoginEnded):
                answers[index] = user
                continue
            incoming = Incoming(user=user, key=send.key, payload=send.payload)
            groups.setdefault((send.topic, send.language), []).append((index, incoming))
        for (topic, language), group in groups.items():
            i18n.set_language(language)
            stored = await topic.send(session=session, sends=[incoming for _, incoming in group])
            answers.update(zip((index for index, _ in group), stored, strict=True))
        return [answers[index] for index in range(len(sends))]
