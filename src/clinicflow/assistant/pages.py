"""The assistant's page routes: the chart's Discard of a draft prescription.

The chart is records' page and its prescription form records' own; the draft that prefills
it is the assistant's, so discarding one is routed here and answered as the chart's other
forms are (back to the visit, or the chart again with the refusal).

What the chat page shows of the assistant (its words, the memory panel) lives in the
assistant's templates: `web/templates/assistant/_chat.html` and `_panel.html`.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from clinicflow.assistant import drafts
from clinicflow.deps import CsrfProtected, PageViewer, Session, SettingsDep
from clinicflow.records import pages as chart
from clinicflow.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


@router.post(
    "/consultations/{consultation_id}/prescription-draft/discard", dependencies=[CsrfProtected]
)
async def discard_draft(
    request: Request,
    consultation_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
) -> Response:
    """The chart's Discard: the assistant's draft goes; the form is empty again."""

    async def store(_form: FormData) -> object:
        await drafts.discard(session=session, actor=user, consultation_id=consultation_id)
        return None

    return await chart.submit_chart_form(
        request, session, settings.public_url, user, consultation_id, store
    )
