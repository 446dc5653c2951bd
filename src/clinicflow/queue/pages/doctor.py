"""The doctor's queue (`/doctor/queue`): the patient with them, who is next and who missed
their turn, the controls, and the meeting-link form. Following this page's queue topic is
what marks the doctor present."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.deps import ClientInfo, CsrfProtected, PageViewer, Session, Viewer
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.queue import access, schemas
from clinicflow.queue import service as queues
from clinicflow.queue.pages.texts import staff_text
from clinicflow.routing import TransactionalRoute
from clinicflow.web.templating import refusal_page, render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


async def _doctor_context(session: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    access.require_role(viewer, Role.doctor)
    doctor = await identity.get_doctor(session, viewer.id)
    current, entries = await queues.queue_for(
        session=session, actor=viewer, doctor_id=viewer.id, day=None
    )
    names = await queues.visible_names(session, viewer, viewer.id, entries)
    data = {
        "doctor_id": str(viewer.id),
        "doctor_name": doctor.name,
        "topic": queues.topic(viewer.id, current.queue.day),
        "queue": queues.queue_out(current, entries, names).model_dump(mode="json"),
    }
    return {
        "meet_url": doctor.doctor.meet_url if doctor.doctor else None,
        "queue": data,
        "config": {"role": "doctor", "queues": [data], "text": staff_text()},
    }


@router.get("/doctor/queue")
async def doctor_queue(
    request: Request, session: Session, user: PageViewer, told: int | None = None
) -> Response:
    context = await _doctor_context(session, user)
    return render(request, "queue/doctor.html", {**context, "told": told})


@router.post("/doctor/queue/meet-link", dependencies=[CsrfProtected])
async def doctor_meet_link(
    request: Request,
    session: Session,
    user: PageViewer,
    client: ClientInfo,
    meet_url: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    access.require_role(user, Role.doctor)
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
            session=session,
            actor=user,
            doctor_id=user.id,
            meet_url=body.meet_url,
            client_ip=client.ip,
        )
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            "queue/doctor.html",
            lambda: _doctor_context(session, user),
            told=None,
            typed=meet_url,
        )
    return RedirectResponse(f"/doctor/queue?told={len(told)}", status_code=303)
