"""Consultation pages: the lists (a doctor's pending requests on top) and the chat.

The chat page renders the frame and hands the conversation to `static/js/chat.js`, which
loads history over the API and follows `consultation:<id>` over the socket; every rule
is the service's and access module's. The assistant sits above consultations and is not
imported here: what the page shows of it (its words, the doctor's memory panel) is the
assistant's own template, `assistant/_chat.html`, which the chat template imports.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import access, schemas
from clinicflow.consultations import service as consultations
from clinicflow.consultations.models import Consultation
from clinicflow.consultations.schemas import ConsultationStatus, ConsultationType
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError
from clinicflow.deps import CsrfProtected, PageViewer, Session, SettingsDep, throttled
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.routing import TransactionalRoute
from clinicflow.web.clinical import AllergyLines, AllergyLineSource, allergy_lines
from clinicflow.web.templating import refusal_page, render, render_block

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

LIST_LIMIT = 100
LIST_TEMPLATE = "consultations/list.html"
# The block of the list drawn alone for a live update.
GROUPS_BLOCK = "consultation_groups"
S = ConsultationStatus


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    style: str
    # The question asked before an action that cannot be undone.
    confirm: str | None = None


@dataclass(frozen=True)
class StartForm:
    doctor_id: str = ""
    problem: str = ""
    type: str = ConsultationType.chat.value

    @property
    def types(self) -> list[ConsultationType]:
        """The ways to talk the form offers, in order; the template shows each `.label`."""
        return list(ConsultationType)


async def _doctor_choices(session: AsyncSession) -> list[dict[str, str]]:
    doctors = await identity.search_doctors(session)
    return [
        {"id": str(d.id), "name": d.name, "specialty": d.doctor.specialty if d.doctor else ""}
        for d in doctors
    ]


def _rows(items: Sequence[schemas.ConsultationOut | schemas.DeskEntry]) -> list[dict[str, Any]]:
    return [dict(item.__dict__) for item in items]


async def _list_context(session: AsyncSession, user: Actor) -> dict[str, Any]:
    if access.sees_only_the_desk_list(user):
        entries = await consultations.desk(session=session, actor=user)
        live = _rows(entries)
        groups = [
            (S.pending.label, [r for r in live if r["status"] is S.pending], "pending"),
            (S.active.label, [r for r in live if r["status"] is S.active], "active"),
        ]
        return {"groups": groups, "doctors": None, "viewer_is_doctor": False, "desk": True}
    mine, _cursor = await consultations.list_consultations(
        session=session, actor=user, limit=LIST_LIMIT
    )
    rows = _rows(await consultations.describe(session, mine))

    def having(*statuses: ConsultationStatus) -> list[dict[str, Any]]:
        return [row for row in rows if row["status"] in statuses]

    doctor = access.receives_requests(user)
    groups = [
        (_("New requests") if doctor else S.pending.label, having(S.pending), "pending"),
        (S.active.label, having(S.active), "active"),
        (_("Earlier"), having(S.ended, S.declined, S.cancelled), "earlier"),
    ]
    doctors = await _doctor_choices(session) if access.can_start(user) else None
    return {"groups": groups, "doctors": doctors, "viewer_is_doctor": doctor, "desk": False}


@router.get("/consultations", response_class=HTMLResponse)
async def consultation_list(
    request: Request,
    session: Session,
    user: PageViewer,
    fragment: Annotated[Literal["groups"] | None, Query()] = None,
) -> Response:
    """The viewer's consultations in groups. `?fragment=groups` draws only the groups, from
    the same context and template: the page fetches it when a socket event says one of its
    consultations changed (`static/js/consultation-list.js`)."""
    context = {**await _list_context(session, user), "form": StartForm()}
    if fragment == "groups":
        return render_block(request, LIST_TEMPLATE, GROUPS_BLOCK, context)
    return render(request, LIST_TEMPLATE, context)


@router.post("/consultations", dependencies=[CsrfProtected, throttled("consultation_requests")])
async def start(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
    doctor_id: Annotated[str, Form(max_length=64)],
    problem: Annotated[str, Form(max_length=schemas.MAX_PROBLEM * 2)],
    type: Annotated[str, Form(max_length=16)] = ConsultationType.chat.value,
) -> Response:
    form = StartForm(doctor_id=doctor_id, problem=problem, type=type)
    try:
        consultation = await consultations.start(
            session=session,
            actor=user,
            max_pending=settings.max_pending_consultations,
            doctor_id=uuid.UUID(doctor_id),
            problem=problem,
            type=ConsultationType(type),
        )
    except ValueError:
        return render(
            request,
            LIST_TEMPLATE,
            {
                **await _list_context(session, user),
                "form": form,
                "error": _("Choose a doctor and how you would like to talk."),
            },
            status_code=422,
        )
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            LIST_TEMPLATE,
            lambda: _list_context(session, user),
            form=form,
        )
    return RedirectResponse(f"/consultations/{consultation.id}", status_code=303)


def _actions(user: Actor, consultation: Consultation) -> list[Action]:
    if not access.is_doctor_of(user, consultation):
        return []
    if consultation.status is ConsultationStatus.pending:
        return [
            Action("accept", _("Accept"), "primary"),
            Action("decline", _("Decline"), "secondary outline"),
        ]
    if consultation.status is ConsultationStatus.active:
        return [
            Action(
                "end",
                _("End the consultation"),
                "secondary",
                confirm=_("End this consultation? Neither of you can write in it afterwards."),
            )
        ]
    return []


def _read_only_reason(consultation: Consultation) -> str:
    if consultation.status is ConsultationStatus.pending:
        return _("You can write once the doctor has accepted.")
    if consultation.status is ConsultationStatus.declined:
        return _("This consultation was declined.")
    if consultation.status in (ConsultationStatus.ended, ConsultationStatus.cancelled):
        return _("This consultation has ended.")
    return _("Only the patient and the doctor write here.")


def _chat_config(user: Actor, consultation: schemas.ConsultationOut) -> dict[str, Any]:
    """What chat.js needs, as JSON in the page: ids, names and the words it shows. The chat
    template adds the assistant's words and its part (`assistant/_chat.html`)."""
    return {
        "id": str(consultation.id),
        "me": str(user.id),
        "status": consultation.status.value,
        "names": {
            str(consultation.patient_id): consultation.patient_name,
            str(consultation.doctor_id): consultation.doctor_name,
        },
        "text": {
            "sending": _("Sending…"),
            "failed": _("Not sent"),
            "typing": _("{name} is typing…"),
            "online": _("{name} is here"),
            "away": _("Not connected right now"),
            "system": {
                "accepted": _("The doctor accepted the consultation."),
                "declined": _("The doctor declined the consultation."),
                "ended": _("The consultation has ended."),
                "joined": _("Joined the consultation."),
            },
        },
    }


async def _chat_context(
    session: AsyncSession, user: Actor, consultation_id: uuid.UUID, lines: AllergyLineSource
) -> dict[str, Any]:
    consultation = await consultations.get_consultation(
        session=session, actor=user, consultation_id=consultation_id
    )
    described = (await consultations.describe(session, [consultation]))[0]
    mine = access.is_patient_of(user, consultation)
    doctor = access.is_doctor_of(user, consultation)
    return {
        "consultation": described,
        "other_name": described.doctor_name if mine else described.patient_name,
        "chart_link": doctor,
        # The doctor sees the patient's allergies beside the chat (handed in by records).
        "allergy_line": await lines.allergy_line(
            session=session, actor=user, patient_id=consultation.patient_id
        )
        if doctor
        else None,
        # The consultation's doctor gets the assistant's memory panel.
        "viewer_is_doctor": doctor,
        "config": _chat_config(user, described),
        "can_write": access.can_write(user, consultation),
        "read_only_reason": _read_only_reason(consultation),
        "actions": _actions(user, consultation),
    }


@router.get("/consultations/{consultation_id}", response_class=HTMLResponse)
async def chat(
    request: Request,
    consultation_id: uuid.UUID,
    session: Session,
    user: PageViewer,
    lines: AllergyLines,
) -> Response:
    context = await _chat_context(session, user, consultation_id, lines)
    return render(request, "consultations/chat.html", context)


async def _change(
    request: Request,
    session: AsyncSession,
    user: Actor,
    consultation_id: uuid.UUID,
    change: Callable[[], Awaitable[object]],
) -> Response:
    """Run a status change and come back to the chat; a refusal shows on the chat page."""
    try:
        await change()
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            "consultations/chat.html",
            lambda: _chat_context(session, user, consultation_id, allergy_lines(request)),
        )
    return RedirectResponse(f"/consultations/{consultation_id}", status_code=303)


@router.post("/consultations/{consultation_id}/accept", dependencies=[CsrfProtected])
async def accept(
    request: Request,
    consultation_id: uuid.UUID,
    session: Session,
    user: PageViewer,
) -> Response:
    return await _change(
        request,
        session,
        user,
        consultation_id,
        lambda: consultations.accept(session=session, actor=user, consultation_id=consultation_id),
    )


@router.post("/consultations/{consultation_id}/decline", dependencies=[CsrfProtected])
async def decline(
    request: Request,
    consultation_id: uuid.UUID,
    session: Session,
    user: PageViewer,
    reason: Annotated[str, Form(max_length=1000)],
) -> Response:
    return await _change(
        request,
        session,
        user,
        consultation_id,
        lambda: consultations.decline(
            session=session,
            actor=user,
            consultation_id=consultation_id,
            reason=reason,
        ),
    )


@router.post("/consultations/{consultation_id}/end", dependencies=[CsrfProtected])
async def end(
    request: Request,
    consultation_id: uuid.UUID,
    session: Session,
    user: PageViewer,
) -> Response:
    return await _change(
        request,
        session,
        user,
        consultation_id,
        lambda: consultations.end(session=session, actor=user, consultation_id=consultation_id),
    )
