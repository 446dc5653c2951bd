"""The call history on the chat page, drawn by the server in the clinic's time zone and the
reader's language.

The chat page is consultations' and sits below calls, so it never reads calls: its
template includes `calls/_panel.html` (the call bar, the stage and an empty history), and
`static/js/call.js` fetches this fragment when the page opens and after every call, then
swaps it in.
"""

from __future__ import annotations

import uuid
from typing import Any

from babel.dates import format_datetime
from fastapi import APIRouter, Request
from fastapi.responses import Response

from clinicflow import i18n
from clinicflow.calls import service as calls
from clinicflow.calls.schemas import CallOut
from clinicflow.deps import Clinic, PageViewer, Session
from clinicflow.identity import service as identity
from clinicflow.routing import TransactionalRoute
from clinicflow.web.templating import render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


@router.get("/consultations/{consultation_id}/calls")
async def history(
    request: Request, consultation_id: uuid.UUID, session: Session, user: PageViewer, clinic: Clinic
) -> Response:
    rows = await calls.history(session=session, actor=user, consultation_id=consultation_id)
    names = await identity.names(session, {row.started_by for row in rows})
    language = i18n.current_language()

    def shown(row: CallOut) -> dict[str, Any]:
        return {
            "call": row,
            "by": names.get(row.started_by, ""),
            "when": format_datetime(
                row.started_at, format="medium", tzinfo=clinic.zone, locale=language
            ),
        }

    return render(request, "calls/history.html", {"rows": [shown(row) for row in reversed(rows)]})
