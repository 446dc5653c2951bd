"""The doctor's queue (`/doctor/queue`): the patient with them, who is next and who missed
their turn, the controls, and the meeting-link form. Following this page's queue topic is
what marks the doctor present.

The queue and its controls are the block `doctor_queue` of the page's template, drawn on
the first response and again alone by `/doctor/queue/fragment` when the topic announces a
change (`static/js/queue-staff.js`). Each control is a form posted to a route here, so the
page works without a script; the script posts the same forms and swaps the block in.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.deps import CsrfProtected, PageViewer, Session, Viewer
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.queue import access, schemas
from clinicflow.queue import service as queues
from clinicflow.queue.pages.staff_queue import staff_queue
from clinicflow.queue.pages.texts import doctor_state_labels
from clinicflow.routing import TransactionalRoute
from clinicflow.web.clinical import AllergyLines, AllergyLineSource, allergy_lines
from clinicflow.web.templating import refusal_page, render, render_block

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


class QueueControl(StrEnum):
    """The doctor's controls that act on the queue as a whole."""

    call_next = "call-next"
    undo = "undo"
    pause = "pause"
    resume = "resume"


class EntryControl(StrEnum):
    """The doctor's controls that act on one patient's place."""

    finish = "finish"
    finish_and_call_next = "finish-and-call-next"
    no_show = "no-show"
    recall = "recall"


async def _live_context(
    session: AsyncSession, viewer: Viewer, day: date | None, lines: AllergyLineSource
) -> dict[str, Any]:
    """What the block `doctor_queue` reads, drawn whole or alone; the patient with the
    doctor comes with their allergy line (handed in by records, `web.clinical`)."""
    access.require_doctor_page(viewer)
    doctor = await identity.get_doctor(session, viewer.id)
    queue = await staff_queue(
        session, viewer, doctor_id=viewer.id, doctor_name=doctor.name, day=day
    )
    allergy_line = (
        await lines.allergy_line(session=session, actor=viewer, patient_id=queue.current.patient_id)
        if queue.current is not None
        else None
    )
    return {
        "queue": queue,
        # Shown `| moment("time")`: on the clinic's clock, whatever zone the doctor's week
        # is written in or the browser is in.
        "called_at": queue.current.called_at if queue.current is not None else None,
        "doctor_state": doctor_state_labels(),
        "allergy_line": allergy_line,
    }


async def _doctor_context(
    session: AsyncSession, viewer: Viewer, lines: AllergyLineSource
) -> dict[str, Any]:
    live = await _live_context(session, viewer, None, lines)
    doctor = await identity.get_doctor(session, viewer.id)
    return {"meet_url": doctor.doctor.meet_url if doctor.doctor else None, **live}


@router.get("/doctor/queue")
async def doctor_queue(
    request: Request,
    session: Session,
    user: PageViewer,
    lines: AllergyLines,
    told: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
) -> Response:
    context = await _doctor_context(session, user, lines)
    return render(request, "queue/doctor.html", {**context, "told": told})


@router.get("/doctor/queue/fragment")
async def doctor_queue_fragment(
    request: Request,
    session: Session,
    user: PageViewer,
    lines: AllergyLines,
    date: date | None = None,
) -> Response:
    """The queue and its controls alone (the page's block `doctor_queue`), for the page to
    swap in when the queue's topic announces a change; the page's own access."""
    context = await _live_context(session, user, date, lines)
    return render_block(request, "queue/doctor.html", "doctor_queue", context)


@router.post("/doctor/queue/meet-link", dependencies=[CsrfProtected])
async def doctor_meet_link(
    request: Request,
    session: Session,
    user: PageViewer,
    meet_url: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    access.require_doctor_page(user)
    try:
        try:
            body = schemas.MeetLinkIn.model_validate({"meet_url": meet_url.strip() or None})
        except ValidationError:
            raise AppError(
                ErrorCode.validation_error,
                _("Paste a Google Meet link like https://meet.google.com/abc-defg-hij."),
                {"field": "meet_url"},
            ) from None
        told = await queues.set_meet_link(
            session=session, actor=user, doctor_id=user.id, meet_url=body.meet_url
        )
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            "queue/doctor.html",
            lambda: _doctor_context(session, user, allergy_lines(request)),
            told=None,
            typed=meet_url,
        )
    return RedirectResponse(f"/doctor/queue?told={len(told)}", status_code=303)


@router.post("/doctor/queue/{control}", dependencies=[CsrfProtected])
async def doctor_queue_control(
    request: Request, session: Session, user: PageViewer, control: QueueControl
) -> Response:
    """Call next, undo, pause or resume; then the page again (or the refusal on it)."""
    access.require_doctor_page(user)
    try:
        match control:
            case QueueControl.call_next:
                await queues.call_next(session=session, actor=user, doctor_id=user.id)
            case QueueControl.undo:
                await queues.undo(session=session, actor=user, doctor_id=user.id)
            case QueueControl.pause | QueueControl.resume:
                await queues.set_paused(
                    session=session,
                    actor=user,
                    doctor_id=user.id,
                    paused=control is QueueControl.pause,
                )
    except AppError as exc:
        return await _refused(request, session, user, exc)
    return RedirectResponse("/doctor/queue", status_code=303)


@router.post("/doctor/queue/entries/{entry_id}/{control}", dependencies=[CsrfProtected])
async def doctor_entry_control(
    request: Request,
    session: Session,
    user: PageViewer,
    entry_id: uuid.UUID,
    control: EntryControl,
) -> Response:
    """Finish (and call the next), no-show or call again one patient; then the page again
    (or the refusal)."""
    access.require_doctor_page(user)
    verb = {
        EntryControl.finish: queues.finish,
        EntryControl.finish_and_call_next: queues.finish_and_call_next,
        EntryControl.no_show: queues.no_show,
        EntryControl.recall: queues.recall,
    }[control]
    try:
        await verb(session=session, actor=user, entry_id=entry_id)
    except AppError as exc:
        return await _refused(request, session, user, exc)
    return RedirectResponse("/doctor/queue", status_code=303)


async def _refused(
    request: Request, session: AsyncSession, user: Viewer, exc: AppError
) -> Response:
    return await refusal_page(
        request,
        session,
        exc,
        "queue/doctor.html",
        lambda: _doctor_context(session, user, allergy_lines(request)),
        told=None,
    )
