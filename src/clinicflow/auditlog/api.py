"""The audit log's JSON and CSV routes (issue 17; names and shapes fixed)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from clinicflow.auditlog import access
from clinicflow.auditlog import service as auditlog
from clinicflow.auditlog.schemas import AuditFilter, AuditPage
from clinicflow.clinic.schemas import ClinicProfile
from clinicflow.deps import Clinic, CurrentUser, RuntimeDep, Session, Viewer
from clinicflow.routing import TransactionalRoute

router = APIRouter(prefix="/api", route_class=TransactionalRoute, tags=["audit"])

DATES = (
    "`from` and `to` are calendar dates (YYYY-MM-DD) in the clinic's time zone (its settings), "
    "both included: `to=2026-12-05` reaches midnight at the end of 5 December in that zone."
)
ActorId = Annotated[uuid.UUID | None, Query(description="Only rows this person did.")]
Action = Annotated[str | None, Query(max_length=80, description="Exact action, e.g. `login`.")]
Resource = Annotated[str | None, Query(max_length=40, description="Exact resource type.")]
From = Annotated[date | None, Query(alias="from", description="First day, clinic time zone.")]
To = Annotated[date | None, Query(alias="to", description="Last day, clinic time zone.")]


def _filters(
    clinic: ClinicProfile,
    actor_id: uuid.UUID | None,
    action: str | None,
    resource_type: str | None,
    start: date | None,
    end: date | None,
) -> AuditFilter:
    lower, upper = auditlog.window(start=start, end=end, zone=clinic.zone)
    return AuditFilter(
        actor_id=actor_id,
        action=action or None,
        resource_type=resource_type or None,
        start=lower,
        end=upper,
    )


@router.get("/admin/audit", description=f"Filtered rows of the audit trail, newest first. {DATES}")
async def audit_rows(
    session: Session,
    user: CurrentUser,
    clinic: Clinic,
    actor_id: ActorId = None,
    action: Action = None,
    resource_type: Resource = None,
    start: From = None,
    end: To = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=auditlog.MAX_PAGE_SIZE)] = auditlog.PAGE_SIZE,
) -> AuditPage:
    filters = _filters(clinic, actor_id, action, resource_type, start, end)
    return await auditlog.page(
        session=session, actor=user, filters=filters, cursor=cursor, limit=limit
    )


@router.get(
    "/admin/audit.csv",
    description=f"The whole filtered view as CSV, streamed; the same filters. {DATES}",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def audit_csv(
    runtime: RuntimeDep,
    user: CurrentUser,
    clinic: Clinic,
    actor_id: ActorId = None,
    action: Action = None,
    resource_type: Resource = None,
    start: From = None,
    end: To = None,
) -> StreamingResponse:
    # Refused and bad filters answer here, in the request, before the body starts.
    access.require_auditor(user)
    filters = _filters(clinic, actor_id, action, resource_type, start, end)
    reader = Viewer(user.id, user.name, user.role)

    async def body() -> AsyncIterator[str]:
        # The request's transaction ends when this handler returns; the body is read in a
        # transaction of its own, so a long export never holds the request's open.
        async with runtime.transaction(write=False) as session:
            async for chunk in auditlog.export_csv(session=session, actor=reader, filters=filters):
                yield chunk

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
