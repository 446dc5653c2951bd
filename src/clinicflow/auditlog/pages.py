"""The admin's audit log page: filters, rows in the clinic's time, the chain's banner.

Every rule is the audit log service's; this route turns the filter form into its arguments.
A form submits empty fields as empty strings, so the filters arrive as text and an empty one
means "any"; a value that does not parse is a 422 naming its field, as in the API.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clinicflow.auditlog import service as auditlog
from clinicflow.auditlog.schemas import AuditFilter, AuditRow
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.deps import Clinic, PageUser, Session
from clinicflow.i18n import gettext as _
from clinicflow.routing import TransactionalRoute
from clinicflow.web.templating import render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

FIELDS = ("actor_id", "action", "resource_type", "from", "to")


def _parse_date(text: str, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise AppError(
            ErrorCode.validation_error, _("Enter a date as YYYY-MM-DD."), {"field": field}
        ) from exc


def _parse_person(text: str) -> uuid.UUID | None:
    if not text:
        return None
    try:
        return uuid.UUID(text)
    except ValueError as exc:
        raise AppError(
            ErrorCode.validation_error, _("Choose a person from the list."), {"field": "actor_id"}
        ) from exc


def _details_text(row: AuditRow) -> str:
    return json.dumps(row.details, indent=2, sort_keys=True, ensure_ascii=False)


@router.get("/admin/audit")
async def audit_page(
    request: Request,
    session: Session,
    user: PageUser,
    clinic: Clinic,
    cursor: str | None = None,
) -> Response:
    typed = {field: request.query_params.get(field, "").strip() for field in FIELDS}
    lower, upper = auditlog.window(
        start=_parse_date(typed["from"], "from"),
        end=_parse_date(typed["to"], "to"),
        zone=clinic.zone,
    )
    filters = AuditFilter(
        actor_id=_parse_person(typed["actor_id"]),
        action=typed["action"] or None,
        resource_type=typed["resource_type"] or None,
        start=lower,
        end=upper,
    )
    result = await auditlog.page(session=session, actor=user, filters=filters, cursor=cursor)
    choices = await auditlog.filter_choices(session=session, actor=user)
    query = urlencode({k: v for k, v in typed.items() if v})
    rows: list[dict[str, Any]] = [
        {
            "row": row,
            "details": _details_text(row),
        }
        for row in result.items
    ]
    next_query = (
        urlencode({**{k: v for k, v in typed.items() if v}, "cursor": result.next_cursor})
        if result.next_cursor
        else None
    )
    return render(
        request,
        "auditlog/audit.html",
        {
            "rows": rows,
            "chain": result.chain,
            "filters": typed,
            "choices": choices,
            "csv_url": f"/api/admin/audit.csv?{query}" if query else "/api/admin/audit.csv",
            "next_url": f"/admin/audit?{next_query}" if next_query else None,
            "first_url": f"/admin/audit?{query}" if query else "/admin/audit",
            "paged": bool(cursor),
            "zone": clinic.timezone,
        },
    )
