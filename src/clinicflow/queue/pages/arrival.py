"""Arrival (`/queue/arrive?code=`): the page a check-in QR code opens. Opening it changes
nothing (a link preview must not check anyone in); its one button does."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from clinicflow.core.errors import AppError
from clinicflow.deps import (
    CsrfProtected,
    OptionalPageUser,
    PageViewer,
    Session,
    SettingsDep,
)
from clinicflow.queue import access
from clinicflow.queue import service as queues
from clinicflow.queue.pages.desk import receipt
from clinicflow.routing import TransactionalRoute
from clinicflow.web.pages import NEXT_COOKIE, remember_next
from clinicflow.web.templating import refusal_page, render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

CodeField = Annotated[str, Form(max_length=32)]
CodeQuery = Annotated[str | None, Query(max_length=32)]


async def _nothing_stored() -> dict[str, Any]:
    """The arrival form shows only what was typed: nothing stored to read after a refusal."""
    return {}


@router.get("/queue/arrive")
async def arrive(
    request: Request, session: Session, user: OptionalPageUser, code: CodeQuery = None
) -> Response:
    if user is None:
        # Whoever scans a check-in QR code is a patient: the phone sign-in, which brings
        # them back here with the code kept (the staff page is one link away on it).
        target = "/queue/arrive" + (f"?{urlencode({'code': code})}" if code else "")
        redirect = RedirectResponse("/login/phone", status_code=303)
        remember_next(request, redirect, target)
        return redirect
    response: Response
    if access.has_waiting_room(user) and not code:
        response = RedirectResponse("/queue", status_code=303)
    else:
        response = render(request, "queue/arrive.html", {"code": code or "", "done": None})
    response.delete_cookie(NEXT_COOKIE, path="/")
    return response


@router.post("/queue/arrive", dependencies=[CsrfProtected])
async def arrive_check_in(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
    code: CodeField,
) -> Response:
    try:
        entry, _created = await queues.check_in(
            session=session, settings=settings, actor=user, code=code
        )
    except AppError as exc:
        return await refusal_page(
            request, session, exc, "queue/arrive.html", _nothing_stored, code=code, done=None
        )
    if access.has_waiting_room(user):
        return RedirectResponse("/queue", status_code=303)
    done = await receipt(session, user, entry.id)
    return render(request, "queue/arrive.html", {"code": "", "done": done})
