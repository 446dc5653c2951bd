"""How services announce a change: `publish_on_commit`, never before the data is stored."""

from __future__ import annotations

from typing import Any, Protocol

import structlog
from sqlalchemy import event as orm_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from clinicflow.db import AfterCommit, after_commit
from clinicflow.realtime.events import Event

log = structlog.get_logger(__name__)

PUBLISHER_KEY = "clinicflow.realtime.publisher"
_PENDING_KEY = "clinicflow.realtime.pending"


class Publisher(Protocol):
    async def publish(self, events: list[Event]) -> None: ...


def session_info(publisher: Publisher) -> dict[str, Any]:
    """What the runtime puts into every session's `info`, so services find the process's
    broker without a global or an extra argument through every call."""
    return {PUBLISHER_KEY: publisher}


def publish_on_commit(session: AsyncSession, event: Event) -> None:
    """Send `event` to every follower of its topic once this transaction commits.

    A follower that receives an event can therefore always read its data; a rolled-back
    change announces nothing. Events of one transaction go out together, in order.
    """
    pending: list[Event] | None = session.info.get(_PENDING_KEY)
    if pending is None:
        publisher: Publisher | None = session.info.get(PUBLISHER_KEY)
        if publisher is None:
            log.warning("realtime.no_publisher", topic=event.topic, type=event.type)
            return
        pending = session.info[_PENDING_KEY] = []
        after_commit(session, _flush(session, publisher, pending))
    pending.append(event)


def _flush(session: AsyncSession, publisher: Publisher, pending: list[Event]) -> AfterCommit:
    async def flush() -> None:
        session.info.pop(_PENDING_KEY, None)
        await publisher.publish(pending)

    return flush


@orm_event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    """The rollback dropped the flush callback; the next transaction starts a new batch."""
    session.info.pop(_PENDING_KEY, None)
