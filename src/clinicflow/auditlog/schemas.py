"""What the audit log answers: rows of the trail, one page of them, and the chain's state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class AuditFilter:
    """Which rows to show. `start` and `end` are UTC instants (end exclusive): the edge turns
    the clinic-zone dates a person typed into them, so the service never guesses a zone."""

    actor_id: uuid.UUID | None = None
    action: str | None = None
    resource_type: str | None = None
    start: datetime | None = None
    end: datetime | None = None


class AuditRow(BaseModel):
    seq: int
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor_name: str | None
    actor_role: str | None
    action: str
    resource_type: str
    resource_id: str | None
    ip: str | None
    outcome: str
    details: dict[str, Any]


class ChainState(BaseModel):
    """The answer of the same check `clinicflow audit verify` runs."""

    intact: bool
    checked_rows: int
    first_bad_row: int | None = None


class AuditPage(BaseModel):
    items: list[AuditRow]
    next_cursor: str | None
    chain: ChainState


@dataclass(frozen=True)
class FilterChoices:
    """The values the page's filters offer: the people, actions and resources in the trail."""

    people: dict[uuid.UUID, str]
    actions: list[str]
    resource_types: list[str]
