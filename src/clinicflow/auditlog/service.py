"""Reading the audit trail: filtered, cursor-paged rows, a streamed export, the chain check.

The trail itself (`core.audit`) is written by every domain and owned by core; this domain
only reads it, so it has no table of its own. Rows come newest first and are paged by their
chain sequence number, which is unique and never reused, so a page boundary can neither
skip nor repeat a row even while new rows are appended above it.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.auditlog import access
from clinicflow.auditlog.schemas import AuditFilter, AuditPage, AuditRow, ChainState, FilterChoices
from clinicflow.core import audit
from clinicflow.core.audit import Actor, AuditEntry
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# The export reads the trail in slices of this many rows, so memory stays flat for any size.
EXPORT_BATCH = 500
_CURSOR_PREFIX = "seq:"


# The days a filter may name: the trail cannot be older than the product, and a bound must
# stay a valid instant once moved to UTC.
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)


def window(
    *, start: date | None, end: date | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """The UTC instants that bound the clinic-zone days `start`..`end` (both included).

    A person filters by the days on the clinic's calendar; midnight there is not midnight in
    UTC, so the bounds are taken in the zone and converted. An end before the start names
    `to`, the field the person has to change.
    """
    for name, value in (("from", start), ("to", end)):
        if value is not None and not EARLIEST <= value <= LATEST:
            # Year 1 or 9999 in the clinic's zone is outside what a UTC instant can hold.
            raise AppError(
                ErrorCode.validation_error,
                _("Choose a date between {earliest} and {latest}.").format(
                    earliest=EARLIEST.isoformat(), latest=LATEST.isoformat()
                ),
                {"field": name},
            )
    if start is not None and end is not None and end < start:
        raise AppError(
            ErrorCode.validation_error,
            _("The end date is before the start date."),
            {"field": "to"},
        )
    lower = datetime.combine(start, time.min, zone) if start else None
    upper = datetime.combine(end + timedelta(days=1), time.min, zone) if end else None
    return lower, upper


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{seq}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The sequence number a cursor names; anything `encode_cursor` did not make is a 422
    on `cursor`."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith(_CURSOR_PREFIX):
            raise ValueError(text)
        seq = int(text.removeprefix(_CURSOR_PREFIX))
        if seq < 1:
            raise ValueError(text)
        return seq
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise AppError(
            ErrorCode.validation_error, _("The page cursor is not valid."), {"field": "cursor"}
        ) from exc


def _query(filters: AuditFilter) -> Select[AuditEntry]:
    statement = select(AuditEntry).order_by(AuditEntry.seq.desc())
    if filters.actor_id is not None:
        statement = statement.where(AuditEntry.actor_id == filters.actor_id)
    if filters.action:
        statement = statement.where(AuditEntry.action == filters.action)
    if filters.resource_type:
        statement = statement.where(AuditEntry.resource_type == filters.resource_type)
    if filters.start is not None:
        statement = statement.where(AuditEntry.occurred_at >= filters.start)
    if filters.end is not None:
        statement = statement.where(AuditEntry.occurred_at < filters.end)
    return statement


async def _rows(session: AsyncSession, entries: Sequence[AuditEntry]) -> list[AuditRow]:
    names = await identity.names(session, {e.actor_id for e in entries if e.actor_id})
    return [
        AuditRow(
            seq=entry.seq,
            occurred_at=entry.occurred_at,
            actor_id=entry.actor_id,
            actor_name=names.get(entry.actor_id) if entry.actor_id else None,
            actor_role=entry.actor_role,
            action=entry.action,
            resource_type=entry.resource_type,
            resource_id=entry.resource_id,
            ip=entry.ip,
            outcome=entry.outcome,
            details=dict(entry.details or {}),
        )
        for entry in entries
    ]


async def chain_state(*, session: AsyncSession, actor: Actor) -> ChainState:
    """The chain's state, from `core.audit.verify`: the very check `clinicflow audit verify`
    runs, so the page and the command can never disagree."""
    access.require_auditor(actor)
    result = await audit.verify(session)
    return ChainState(
        intact=result.ok,
        checked_rows=result.rows_checked,
        first_bad_row=None if result.ok else result.bad_seq,
    )


async def page(
    *,
    session: AsyncSession,
    actor: Actor,
    filters: AuditFilter,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> AuditPage:
    """One page of matching rows, newest first, with the cursor of the next page (None on
    the last) and the chain's state."""
    access.require_auditor(actor)
    statement = _query(filters)
    if cursor:
        statement = statement.where(AuditEntry.seq < decode_cursor(cursor))
    size = max(1, min(limit, MAX_PAGE_SIZE))
    entries = list(await session.scalars(statement.limit(size + 1)))
    more = len(entries) > size
    entries = entries[:size]
    return AuditPage(
        items=await _rows(session, entries),
        next_cursor=encode_cursor(entries[-1].seq) if more and entries else None,
        chain=await chain_state(session=session, actor=actor),
    )


async def export(
    *, session: AsyncSession, actor: Actor, filters: AuditFilter
) -> AsyncIterator[AuditRow]:
    """Every matching row, newest first, read in slices so a long trail never sits in
    memory at once."""
    access.require_auditor(actor)
    below: int | None = None
    while True:
        statement = _query(filters)
        if below is not None:
            statement = statement.where(AuditEntry.seq < below)
        entries = list(await session.scalars(statement.limit(EXPORT_BATCH)))
        for row in await _rows(session, entries):
            yield row
        if len(entries) < EXPORT_BATCH:
            return
        below = entries[-1].seq


async def filter_choices(*, session: AsyncSession, actor: Actor) -> FilterChoices:
    """The people, actions and resource types present in the trail, for the page's filters."""
    access.require_auditor(actor)
    actor_ids = set(
        await session.scalars(
            select(AuditEntry.actor_id).where(AuditEntry.actor_id.is_not(None)).distinct()
        )
    )
    names = await identity.names(session, {i for i in actor_ids if i is not None})
    actions = await session.scalars(select(AuditEntry.action).distinct().order_by("action"))
    resources = await session.scalars(
        select(AuditEntry.resource_type).distinct().order_by("resource_type")
    )
    return FilterChoices(
        people=dict(sorted(names.items(), key=lambda item: item[1].lower())),
        actions=list(actions),
        resource_types=list(resources),
    )


CSV_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_name",
    "actor_role",
    "action",
    "resource_type",
    "resource_id",
    "ip",
    "outcome",
    "details",
)
# A cell that starts with one of these is a formula to a spreadsheet; a name or a detail
# typed by a user must never run as one when an admin opens the export.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = (
        json.dumps(value, sort_keys=True, ensure_ascii=False)
        if isinstance(value, dict)
        else str(value)
    )
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


async def export_csv(
    *, session: AsyncSession, actor: Actor, filters: AuditFilter
) -> AsyncIterator[str]:
    """The filtered view as CSV text, a header then one chunk per row: the same rows and
    fields as the JSON pages, `details` as its JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    async for row in export(session=session, actor=actor, filters=filters):
        record = row.model_dump(mode="json")
        writer.writerow([_cell(record[column]) for column in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


__all__ = [
    "CSV_COLUMNS",
    "MAX_PAGE_SIZE",
    "PAGE_SIZE",
    "chain_state",
    "decode_cursor",
    "encode_cursor",
    "export",
    "export_csv",
    "filter_choices",
    "page",
    "window",
]
