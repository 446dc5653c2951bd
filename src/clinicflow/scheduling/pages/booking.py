"""The patient's booking flow: choose a doctor, a time in their week (which holds it), then
confirm; or join the doctor's waitlist; or confirm a time the waitlist held for them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic import service as clinic
from clinicflow.config import Settings
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.deps import CsrfProtected, PageUser, Session, SettingsDep, throttled
from clinicflow.i18n import gettext as _
from clinicflow.routing import TransactionalRoute
from clinicflow.scheduling import access
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.pages import formatting, people
from clinicflow.scheduling.pages.confirm import RefusalPage, book_from_form, held
from clinicflow.scheduling.pages.fields import (
    DateQuery,
    ReasonField,
    SearchQuery,
    StartsAt,
    WeekBlock,
    parse_date,
)
from clinicflow.scheduling.pages.week import week_block, week_view
from clinicflow.scheduling.schemas import Mode
from clinicflow.web.templating import refusal_page, render, render_refusal

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


def _book_week_url(doctor_id: uuid.UUID) -> Callable[[date], str]:
    return lambda monday: f"/book/{doctor_id}?{urlencode({'week': monday.isoformat()})}"


async def _book_week_page(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    doctor_id: uuid.UUID,
    week: date | datetime | None,
    waitlist_days: tuple[str, str] | None = None,
) -> dict[str, Any]:
    viewer = people.viewer(request)
    view = await week_view(
        session,
        settings,
        doctor_id=doctor_id,
        week=week,
        viewer_id=viewer.id,
        url_for_week=_book_week_url(doctor_id),
    )
    # The waitlist form proposes the days of the week on show that are still to come.
    coming = [day.day.isoformat() for day in view.days if not day.is_past]
    first, last = waitlist_days or (coming[0], coming[-1])
    return {
        "week": view,
        "hold_action": f"/book/{doctor_id}/hold",
        "hidden": {},
        "can_join_waitlist": access.can_join_waitlist(viewer),
        "waitlist_action": f"/book/{doctor_id}/waitlist",
        "waitlist_from": first,
        "waitlist_to": last,
    }


async def _patient_confirm_context(
    session: AsyncSession,
    settings: Settings,
    doctor_id: uuid.UUID,
    starts: datetime,
    ends: datetime,
    until: datetime,
    **extra: Any,
) -> dict[str, Any]:
    slot = await held(session, doctor_id, starts, ends, until)
    return {
        "doctor": await people.doctor(session, doctor_id),
        "held": slot,
        "hold_minutes": (await clinic.current(session=session, defaults=settings)).hold_minutes,
        "action": f"/book/{doctor_id}/confirm",
        "hidden": {"held_until": until.astimezone(UTC).isoformat()},
        "back_url": _book_week_url(doctor_id)(formatting.monday(slot.local_day)),
        "mode": Mode.in_person.value,
        "reason": "",
        **extra,
    }


@router.get("/book")
async def choose_doctor(
    request: Request, session: Session, user: PageUser, q: SearchQuery = None
) -> Response:
    doctors = await people.doctors(session, q)
    return render(request, "scheduling/doctors.html", {"doctors": doctors, "q": q or ""})


@router.get("/book/{doctor_id}")
async def doctor_week(
    request: Request,
    doctor_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    week: DateQuery = None,
    block: WeekBlock = None,
) -> Response:
    context = await _book_week_page(request, session, settings, doctor_id, parse_date(week))
    if block is not None:
        return week_block(request, context)
    return render(request, "scheduling/week.html", context)


@router.post("/book/{doctor_id}/hold", dependencies=[CsrfProtected, throttled("holds")])
async def hold(
    request: Request,
    doctor_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    starts_at: StartsAt,
) -> Response:
    try:
        slot = await scheduling.hold_slot(
            session=session, settings=settings, actor=user, doctor_id=doctor_id, starts_at=starts_at
        )
    except AppError as exc:
        week = partial(_book_week_page, request, session, settings, doctor_id, starts_at)
        return await refusal_page(request, session, exc, "scheduling/week.html", week)
    context = await _patient_confirm_context(
        session, settings, doctor_id, slot.starts_at, slot.ends_at, slot.expires_at
    )
    return render(request, "scheduling/confirm.html", context)


@router.post("/book/{doctor_id}/waitlist", dependencies=[CsrfProtected])
async def join_waitlist(
    request: Request,
    doctor_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    start: Annotated[str, Form(alias="from", max_length=10)] = "",
    end: Annotated[str, Form(alias="to", max_length=10)] = "",
) -> Response:
    first, last = parse_date(start), parse_date(end)
    week = partial(
        _book_week_page, request, session, settings, doctor_id, first, waitlist_days=(start, end)
    )
    if first is None or last is None:
        field = "from" if first is None else "to"
        message = _("Choose the first and the last day.")
        refused = AppError(ErrorCode.validation_error, message, {"field": field})
        return render_refusal(request, refused, "scheduling/week.html", await week())
    try:
        await scheduling.join_waitlist(
            session=session,
            settings=settings,
            actor=user,
            doctor_id=doctor_id,
            first_day=first,
            last_day=last,
        )
    except AppError as exc:
        return await refusal_page(request, session, exc, "scheduling/week.html", week)
    return RedirectResponse("/appointments?waitlisted=1", status_code=303)


@router.get("/book/{doctor_id}/held/{hold_id}")
async def held_for_me(
    request: Request,
    doctor_id: uuid.UUID,
    hold_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
) -> Response:
    """The confirm page for a slot already held for the patient: a waitlist offer."""
    try:
        slot = await scheduling.get_hold(session=session, actor=user, hold_id=hold_id)
    except AppError:
        slot = None
    if slot is None or slot.doctor_id != doctor_id:
        context = await _book_week_page(request, session, settings, doctor_id, None)
        gone = _("That time is no longer held for you. Pick another, or wait for the next offer.")
        return render(request, "scheduling/week.html", {**context, "error": gone}, status_code=404)
    minutes = round((slot.expires_at - slot.created_at).total_seconds() / 60)
    context = await _patient_confirm_context(
        session,
        settings,
        doctor_id,
        slot.starts_at,
        slot.ends_at,
        slot.expires_at,
        hold_minutes=minutes,
    )
    return render(request, "scheduling/confirm.html", context)


@router.post("/book/{doctor_id}/confirm", dependencies=[CsrfProtected])
async def confirm(
    request: Request,
    doctor_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    starts_at: StartsAt,
    mode: Annotated[Mode, Form()] = Mode.in_person,
    reason: ReasonField = "",
    held_until: Annotated[str | None, Form(max_length=40)] = None,
) -> Response:
    week = partial(_book_week_page, request, session, settings, doctor_id, starts_at)
    return await book_from_form(
        request,
        session,
        settings,
        user,
        doctor_id=doctor_id,
        patient_id=None,
        starts_at=starts_at,
        mode=mode,
        reason=reason,
        held_until=held_until,
        confirm_context=partial(_patient_confirm_context, session, settings, doctor_id, starts_at),
        pick_again=RefusalPage("scheduling/week.html", week),
        booked_url=lambda appointment: f"/appointments?booked={appointment.id}",
    )
