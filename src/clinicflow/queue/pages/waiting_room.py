"""The patient's waiting room (`/queue`): their places in today's queues, live, and today's
booked appointments to check in."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import i18n
from clinicflow.config import Settings
from clinicflow.core.errors import AppError
from clinicflow.core.labels import choices
from clinicflow.deps import CsrfProtected, PageViewer, Session, SettingsDep, Viewer
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.queue import access
from clinicflow.queue import service as queues
from clinicflow.queue.pages.check_in_cards import todays_appointments
from clinicflow.queue.pages.texts import doctor_state_labels
from clinicflow.queue.schemas import EntryStatus
from clinicflow.routing import TransactionalRoute
from clinicflow.web.templating import refusal_page, render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


def _waiting_room_text() -> dict[str, Any]:
    return {
        "ahead": {
            "zero": _("You are next."),
            "one": i18n.ngettext("{n} patient ahead of you", "{n} patients ahead of you", 1),
            "many": i18n.ngettext("{n} patient ahead of you", "{n} patients ahead of you", 2),
        },
        "minutes": _("About {minutes} min"),
        # Not "about 0 min": the estimate has run out, not the wait.
        "any_moment": _("Any moment now"),
        "at": _("around {time}"),
        "serving": _("Now serving: {token}"),
        "nobody_serving": _("Nobody has been called yet."),
        "doctor": doctor_state_labels(),
        "turn_title": _("It's your turn"),
        "turn_body": _("Token {token}: {doctor} is ready for you."),
        "ready_done": _("The doctor knows you are ready."),
        "join_soon": _("Join opens when you are among the next 10."),
        "join_wait": _("The doctor will share the link when you are called."),
        "join_room": _(
            "You are in the waiting room. The meeting link appears when you are called."
        ),
        "failed": _("That did not work. Check your connection and try again."),
        "alerts_on": _("Alerts are on."),
        "alerts_blocked": _("Notifications are blocked in this browser; keep this page open."),
        "status": choices(EntryStatus),
    }


async def _waiting_room_context(
    session: AsyncSession, viewer: Viewer, settings: Settings
) -> dict[str, Any]:
    places = await queues.my_entries(session=session, actor=viewer)
    # The newest place in each queue: a new token after a missed turn replaces the old one.
    newest: dict[uuid.UUID, tuple[queues.State, Any]] = {}
    for current, entry in places:
        newest.setdefault(current.queue.id, (current, entry))
    doctors = {d.id: d for d in await identity.users(session, {e.doctor_id for _s, e in places})}
    cards = []
    for current, entry in newest.values():
        # The meeting is the doctor's live room: only the patient who has been called gets
        # its link (the consultation's, copied from the doctor's at the call), as in the API.
        meet_url = await queues.meeting_link_for(session=session, actor=viewer, entry=entry)
        public = current.public()
        out = current.entry(entry).model_dump(mode="json")
        cards.append(
            {
                **out,
                "topic": queues.topic(entry.doctor_id, entry.day),
                "doctor_name": doctors[entry.doctor_id].name,
                "consultation_url": f"/consultations/{entry.consultation_id}"
                if entry.consultation_id
                else None,
                "meet_url": meet_url,
                "queue": public,
                "missed_message": _(
                    "I missed my turn in your queue today (token {token}). Can we talk?"
                ).format(token=entry.token),
            }
        )
    return {
        "places": cards,
        "appointments": await todays_appointments(session, viewer, settings, with_qr=True),
        "config": {"me": str(viewer.id), "places": cards, "text": _waiting_room_text()},
    }


@router.get("/queue")
async def waiting_room(
    request: Request, session: Session, settings: SettingsDep, user: PageViewer
) -> Response:
    access.require_waiting_room(user)
    context = await _waiting_room_context(session, user, settings)
    return render(request, "queue/waiting_room.html", context)


@router.post("/queue/check-in", dependencies=[CsrfProtected])
async def patient_check_in(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
    appointment_id: Annotated[uuid.UUID, Form()],
) -> Response:
    access.require_waiting_room(user)
    try:
        await queues.check_in(
            session=session,
            settings=settings,
            actor=user,
            appointment_id=appointment_id,
        )
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            "queue/waiting_room.html",
            lambda: _waiting_room_context(session, user, settings),
        )
    return RedirectResponse("/queue", status_code=303)
