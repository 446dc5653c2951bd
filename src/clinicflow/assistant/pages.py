"""The assistant's page routes: the doctor's panel on the chat page, drawn alone, and the
chart's Discard of a draft prescription.

The chat page is consultations' and sits below the assistant, so it never reads the panel's
contents: `consultations/chat.html` holds the panel's blocks (`assistant_memory`,
`assistant_drafts`), drawn there without them, and `static/js/assistant.js` fetches each
block from `panel_fragment` when the page opens and whenever an event says it changed,
then swaps it in. The page has one template, and the script builds no item and no draft.

The chart is records' page and its prescription form records' own; the draft that prefills
it is the assistant's, so discarding one is routed here and answered as the chart's other
forms are (back to the visit, or the chart again with the refusal).

What the chat page shows of the assistant (its words, the panel's markup) lives in the
assistant's templates: `web/templates/assistant/_chat.html` and `_panel.html`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from clinicflow.assistant import access, drafts, memory_stores
from clinicflow.assistant import service as assistant
from clinicflow.assistant.prescription import PrescriptionDraft
from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationStatus, ConsultationView
from clinicflow.core import moments
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.deps import Clinic, CsrfProtected, PageViewer, RuntimeDep, Session
from clinicflow.records import pages as chart
from clinicflow.routing import TransactionalRoute, writes
from clinicflow.web.templating import render_block

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

# The panel's blocks are the chat page's own, drawn alone from its template.
CHAT_TEMPLATE = "consultations/chat.html"
PanelBlock = Literal["assistant_memory", "assistant_drafts"]


async def _memory(
    session: AsyncSession,
    user: Actor,
    store: memory_stores.MemoryStore,
    consultation: ConsultationView,
    zone: ZoneInfo,
) -> list[dict[str, Any]]:
    """The memory list, oldest first, each item with its time on the clinic's clock."""
    items = await assistant.list_memory(
        session=session, actor=user, store=store, consultation_id=consultation.id
    )
    return [
        {
            "id": item.id,
            "text": item.text,
            "time": moments.format_moment(item.created_at, zone, style="time"),
        }
        for item in items
    ]


async def _draft(
    session: AsyncSession, user: Actor, consultation_id: uuid.UUID
) -> PrescriptionDraft | None:
    """The draft waiting for the doctor, or None: for its doctor `drafts.read`'s not-found
    only means there is none."""
    try:
        row = await drafts.read(session=session, actor=user, consultation_id=consultation_id)
    except AppError as exc:
        if exc.code is not ErrorCode.not_found:
            raise
        return None
    return drafts.content(row)


@router.get("/consultations/{consultation_id}/assistant-panel")
@writes
async def panel_fragment(
    request: Request,
    consultation_id: uuid.UUID,
    block: Annotated[PanelBlock, Query()],
    session: Session,
    runtime: RuntimeDep,
    clinic: Clinic,
    user: PageViewer,
) -> Response:
    """One block of the chat page's panel, drawn alone: the memory list or the drafts box.
    The consultation's doctor only; anyone else gets the consultation's not-found. Reading
    the memory or the draft is audited as the API's reads are."""
    consultation = await consultations.consultation_for(
        session=session, actor=user, consultation_id=consultation_id
    )
    access.require_panel_keeper(user, consultation.doctor_id)
    context: dict[str, Any] = {"consultation_id": consultation.id}
    if block == "assistant_memory":
        store = memory_stores.store_for(runtime.settings, runtime.redis, session)
        context["memory"] = await _memory(session, user, store, consultation, clinic.zone)
    else:
        context["draft"] = await _draft(session, user, consultation.id)
        context["draft_chart"] = (
            f"/patients/{consultation.patient_id}/chart#prescription-{consultation.id}"
        )
        context["draft_form_open"] = consultation.status is ConsultationStatus.ended
    return render_block(request, CHAT_TEMPLATE, block, {"assistant_panel": context})


@router.post(
    "/consultations/{consultation_id}/prescription-draft/discard", dependencies=[CsrfProtected]
)
async def discard_draft(
    request: Request,
    consultation_id: uuid.UUID,
    session: Session,
    clinic: Clinic,
    user: PageViewer,
) -> Response:
    """The chart's Discard: the assistant's draft goes; the form is empty again."""

    async def store(_form: FormData) -> object:
        await drafts.discard(session=session, actor=user, consultation_id=consultation_id)
        return None

    return await chart.submit_chart_form(
        request, session, clinic.public_url, user, consultation_id, store
    )
