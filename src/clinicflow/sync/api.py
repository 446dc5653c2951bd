"""HTTP routes of the sync protocol (issue 19's contract): thin, the service decides."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from clinicflow.deps import Clinic, CurrentUser, Session, SettingsDep
from clinicflow.routing import TransactionalRoute, writes
from clinicflow.sync import schemas
from clinicflow.sync import service as sync

router = APIRouter(prefix="/api/sync", route_class=TransactionalRoute, tags=["sync"])

Since = Annotated[
    str | None,
    Query(max_length=64, description="The cursor of the last pull; left out for everything"),
]


@router.get("/changes")
@writes
async def changes(
    session: Session, user: CurrentUser, clinic: Clinic, since: Since = None
) -> schemas.ChangesOut:
    """What changed, for the caller, since their cursor; a new cursor is stored (a write)."""
    return await sync.changes(
        session=session, actor=user, zone=clinic.zone, public_url=clinic.public_url, since=since
    )


@router.post("/push")
async def push(
    body: schemas.PushIn, session: Session, settings: SettingsDep, user: CurrentUser
) -> schemas.PushOut:
    results = await sync.push(
        session=session, settings=settings, actor=user, mutations=body.mutations
    )
    return schemas.PushOut(results=results)
