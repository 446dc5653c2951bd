"""The sync protocol's JSON shapes, fixed by issue 19's contract: the change feed
`{changes: [{type, id, op, version, data}], cursor, more}` and the push
`{mutations: [{client_id, type, data, base_version?}]}` answered by one
`{client_id, status, result?, error?}` per mutation, in order."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from clinicflow.core.schemas import StrictModel


class ItemType(StrEnum):
    """What the feed carries; a client keeps one store per type."""

    appointment = "appointment"
    queue_entry = "queue_entry"
    queue = "queue"
    notification = "notification"
    prescription = "prescription"


class MutationType(StrEnum):
    walk_in = "walk_in"
    check_in = "check_in"
    appointment_cancel = "appointment.cancel"


class Outcome(StrEnum):
    applied = "applied"
    duplicate = "duplicate"
    conflict = "conflict"
    rejected = "rejected"


class ChangeOut(BaseModel):
    type: ItemType
    id: str
    op: Literal["upsert", "delete"]
    version: int
    data: dict[str, Any] | None


class ChangesOut(BaseModel):
    changes: list[ChangeOut]
    cursor: str
    more: bool


ClientId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]
# A device that was offline for a long day at a busy desk still sends one batch.
MAX_MUTATIONS = 200


class MutationIn(StrictModel):
    client_id: ClientId
    type: MutationType
    data: dict[str, Any]
    base_version: Annotated[int, Field(ge=0)] | None = None


class PushIn(StrictModel):
    mutations: Annotated[list[MutationIn], Field(max_length=MAX_MUTATIONS)]


class ResultOut(BaseModel):
    client_id: str
    status: Outcome
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class PushOut(BaseModel):
    results: list[ResultOut]
