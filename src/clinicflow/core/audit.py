"""The append-only audit trail, chained by hashes.

Each row stores the hash of the row before it, and a one-row head table stores the last
sequence number and hash. Editing a row breaks its own hash; deleting one leaves a gap in
the sequence or a head that no longer matches; so `verify` can name the first row that
was altered or removed. The head row is also the lock that keeps two writers from
chaining onto the same predecessor: it is taken with `UPDATE … RETURNING` in the writer's
own transaction.

The head is taken **as the transaction commits**, not when `record` is called: `record`
only queues the row, and the session's `before_commit` chains every queued row at once
(one `UPDATE … RETURNING` of the head, the rows, the new head hash) just before `COMMIT`.
On a server database the head's row lock is then held for those few statements instead of
for the rest of the transaction (a booking's notification, the waitlist, the answer), so
audited writes of different things no longer queue behind each other for their whole
transaction. What commits is the same as before: the rows of one transaction are chained
in the order they were recorded, contiguously, and a rolled-back transaction or savepoint
leaves none of its rows and takes no sequence number.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import structlog
from sqlalchemy import JSON, ForeignKey, Integer, String, event, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column
from sqlalchemy.schema import Table

from clinicflow.core import clock
from clinicflow.db import Base, UUIDPrimaryKey, after_commit, drop_rolled_back, queue_in_scope

log = structlog.get_logger(__name__)

GENESIS_HASH = "0" * 64


class Outcome(StrEnum):
    success = "success"
    failure = "failure"
    denied = "denied"


class Actor(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def role(self) -> Any: ...


class AuditEntry(UUIDPrimaryKey, Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, unique=True)
    occurred_at: Mapped[datetime]
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(80), index=True)
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(10))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


HEAD_ROW = {"id": 1, "last_seq": 0, "last_hash": GENESIS_HASH}
ADDRESS_KEY = "clinicflow.client_address"


def bind_address(session: AsyncSession, address: str | None) -> None:
    """Remember, for the unit of work, the network address the acting person came from.

    The address belongs to the request (or socket frame) that opened the transaction, so the
    boundary binds it once and every audit row written in that transaction carries it; no
    verb has to thread a `client_ip` argument through to the place it audits.
    """
    session.info[ADDRESS_KEY] = address


def bound_address(session: AsyncSession) -> str | None:
    address: str | None = session.info.get(ADDRESS_KEY)
    return address


@event.listens_for(AuditHead.__table__, "after_create")
def _insert_head(target: Table, connection: Connection, **_: Any) -> None:
    connection.execute(insert(target).values(**HEAD_ROW))


def _digest(entry: AuditEntry) -> str:
    content = {
        "id": str(entry.id),
        "seq": entry.seq,
        "occurred_at": entry.occurred_at.isoformat(),
        "actor_id": str(entry.actor_id) if entry.actor_id else None,
        "actor_role": entry.actor_role,
        "action": entry.action,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "ip": entry.ip,
        "outcome": entry.outcome,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


async def record(
    session: AsyncSession,
    *,
    action: str,
    resource_type: str,
    resource_id: object | None = None,
    actor: Actor | None = None,
    outcome: Outcome = Outcome.success,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Queue an audit row; it is chained and stored as the transaction commits (see above)."""
    entry = AuditEntry(
        id=uuid.uuid4(),
        occurred_at=clock.now(),
        actor_id=actor.id if actor else None,
        actor_role=str(actor.role) if actor else None,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id) if resource_id is not None else None,
        ip=bound_address(session),
        outcome=outcome.value,
        details=details or {},
    )
    queue_in_scope(session, PENDING_KEY, entry)
    _log_on_commit(session, entry)
    return entry


PENDING_KEY = "clinicflow.audit_pending"


@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    """Chain and add the transaction's queued rows, taking the head only now.

    SQLAlchemy calls this for a savepoint's release too; the rows wait for the outermost
    commit, so the head is never taken before it.
    """
    if session.in_nested_transaction():
        return
    pending: list[tuple[SessionTransaction | None, AuditEntry]] = session.info.pop(PENDING_KEY, [])
    if not pending:
        return
    head = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_seq=AuditHead.last_seq + len(pending))
        .returning(AuditHead.last_seq, AuditHead.last_hash)
    ).one()
    seq, prev_hash = head.last_seq - len(pending), head.last_hash
    for _scope, entry in pending:
        seq += 1
        entry.seq, entry.prev_hash = seq, prev_hash
        entry.hash = prev_hash = _digest(entry)
        session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=prev_hash))


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """A row recorded inside a transaction or savepoint that rolled back is never stored."""
    drop_rolled_back(session, PENDING_KEY, previous_transaction)


@event.listens_for(Session, "after_transaction_end")
def _forget_ended(session: Session, transaction: SessionTransaction) -> None:
    """Nothing queued outlives its session's outermost transaction, however it ended."""
    if transaction.parent is None:
        session.info.pop(PENDING_KEY, None)


# The details an operator's log line may carry: numbers and states, never free text (the
# audit details are already free of clinical text; a name or an address stays out too).
LOGGED_DETAILS = frozenset(
    {"token", "old_token", "new_token", "status", "channel", "severity", "source", "retried"}
)


def _log_on_commit(session: AsyncSession, entry: AuditEntry) -> None:
    """The structured log line of an audited action (queue moves and tokens, meeting-link
    changes, assistant requests, consultations), written once the action is stored."""
    fields = {
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "actor_id": str(entry.actor_id) if entry.actor_id else None,
        "actor_role": entry.actor_role,
        "outcome": entry.outcome,
        **{key: value for key, value in entry.details.items() if key in LOGGED_DETAILS},
    }

    async def write() -> None:
        log.info(entry.action, **fields)

    after_commit(session, write)


@dataclass(frozen=True)
class VerifyResult:
    rows_checked: int
    bad_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


async def _entries(session: AsyncSession) -> AsyncIterator[AuditEntry]:
    result = await session.stream_scalars(select(AuditEntry).order_by(AuditEntry.seq))
    async for entry in result:
        yield entry


async def verify(session: AsyncSession) -> VerifyResult:
    """Walk the chain in order and report the first row that was altered or removed."""
    head = await session.get_one(AuditHead, 1)
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    previous: AuditEntry | None = None
    async for entry in _entries(session):
        if entry.seq != expected_seq:
            return VerifyResult(checked, expected_seq, f"row {expected_seq} was removed")
        if entry.prev_hash != prev_hash:
            bad = previous.seq if previous else entry.seq
            return VerifyResult(checked, bad, f"row {bad} was altered (the next row's link breaks)")
        if _digest(entry) != entry.hash:
            return VerifyResult(checked, entry.seq, f"row {entry.seq} was altered")
        checked += 1
        expected_seq, prev_hash, previous = entry.seq + 1, entry.hash, entry
    if head.last_seq >= expected_seq:
        return VerifyResult(checked, expected_seq, f"row {expected_seq} was removed")
    if head.last_hash != prev_hash:
        bad = previous.seq if previous else 0
        return VerifyResult(
            checked, bad, f"row {bad} was altered (the chain head no longer matches)"
        )
    return VerifyResult(checked)
