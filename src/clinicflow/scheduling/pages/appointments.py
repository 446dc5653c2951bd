"""The list of appointments: a patient's upcoming and earlier ones with their waitlist
places, or a range of days for staff (a doctor's days counted in their own zone)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core import clock
from clinicflow.core.errors import AppError
from clinicflow.deps import CsrfProtected, PageUser, Session, SettingsDep, Viewer
from clinicflow.i18n import gettext as _
from clinicflow.routing import TransactionalRoute
from clinicflow.scheduling import access
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.models import Appointment
from clinicflow.scheduling.pages import formatting, people, reschedule
from clinicflow.scheduling.pages.fields import parse_date
from clinicflow.scheduling.schemas import AppointmentStatus, Mode
from clinicflow.scheduling.service.lifecycle import LIVE
from clinicflow.web.pages import safe_next
from clinicflow.web.templating import refusal_page, render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

LIST_LIMIT = 200


@dataclass(frozen=True)
class AppointmentRow:
    id: uuid.UUID
    day: str
    times: str
    zone: str
    doctor: str
    specialty: str
    patient: str
    mode: Mode
    status: AppointmentStatus
    reason: str
    can_cancel: bool
    doctor_id: uuid.UUID | None = None
    # The version a change made offline is sent against (sync's conflict check).
    version: int = 1
    # The times it may move to (a patient's own booked appointment), and its calendar file.
    free_times: tuple[reschedule.FreeTime, ...] = ()
    calendar_url: str = ""


@dataclass(frozen=True)
class DayGroup:
    label: str
    rows: list[AppointmentRow]


@dataclass(frozen=True)
class OfferRow:
    day: str
    times: str
    zone: str
    until: str  # when the hold ends, in the doctor's zone
    confirm_url: str


@dataclass(frozen=True)
class WaitlistRow:
    id: uuid.UUID
    doctor: str
    specialty: str
    days: str
    offer: OfferRow | None


async def _doctor_facts(
    session: AsyncSession, doctor_id: uuid.UUID, cache_: dict[uuid.UUID, tuple[str, str]]
) -> tuple[str, str]:
    """(name, specialty) of an appointment's doctor, even one no longer active."""
    if doctor_id not in cache_:
        try:
            card = await people.doctor(session, doctor_id)
            cache_[doctor_id] = (card.name, card.specialty)
        except AppError:
            cache_[doctor_id] = ("—", "")
    return cache_[doctor_id]


async def _patient_name(
    session: AsyncSession, patient_id: uuid.UUID, cache_: dict[uuid.UUID, str]
) -> str:
    if patient_id not in cache_:
        try:
            cache_[patient_id] = (await people.patient(session, patient_id)).name
        except AppError:
            cache_[patient_id] = "—"
    return cache_[patient_id]


async def appointment_rows(
    session: AsyncSession, appointments: Sequence[Appointment], *, with_patients: bool
) -> list[AppointmentRow]:
    now = clock.now()
    doctors: dict[uuid.UUID, tuple[str, str]] = {}
    patients: dict[uuid.UUID, str] = {}
    timezone = await formatting.clinic_zone(session)
    zone = ZoneInfo(timezone)
    rows = []
    for item in appointments:
        name, specialty = await _doctor_facts(session, item.doctor_id, doctors)
        rows.append(
            AppointmentRow(
                id=item.id,
                day=formatting.full_day_label(item.starts_at.astimezone(zone).date()),
                times=formatting.times(item.starts_at, item.ends_at, zone),
                zone=formatting.zone_label(timezone, item.starts_at),
                doctor=name,
                specialty=specialty,
                patient=(
                    await _patient_name(session, item.patient_id, patients) if with_patients else ""
                ),
                mode=item.mode,
                status=item.status,
                reason=item.reason,
                can_cancel=item.status in LIVE and item.starts_at > now,
                doctor_id=item.doctor_id,
                version=item.version,
                calendar_url=f"/api/appointments/{item.id}.ics",
            )
        )
    return rows


def _moment_label(zone: ZoneInfo, at: datetime) -> str:
    day = formatting.full_day_label(at.astimezone(zone).date())
    return f"{day}, {formatting.clock_time(at, zone)}"


async def _movable(
    session: AsyncSession,
    settings: Settings,
    viewer: Viewer,
    rows: list[AppointmentRow],
    appointments: Sequence[Appointment],
) -> list[AppointmentRow]:
    """The patient's rows, each with the free times it may move to (on the clinic's clock)."""
    moved = []
    zone = ZoneInfo(await formatting.clinic_zone(session))
    for row, item in zip(rows, appointments, strict=True):
        choices = await reschedule.free_times(
            session=session,
            settings=settings,
            viewer_id=viewer.id,
            doctor_id=item.doctor_id,
            starts_at=item.starts_at,
            status=item.status,
            label=partial(_moment_label, zone),
        )
        moved.append(replace(row, free_times=tuple(choices)))
    return moved


async def _waitlist_rows(session: AsyncSession, actor: Viewer) -> list[WaitlistRow]:
    doctors: dict[uuid.UUID, tuple[str, str]] = {}
    timezone = await formatting.clinic_zone(session)
    rows = []
    for item in await scheduling.my_waitlist(session=session, actor=actor):
        entry, held = item.entry, item.held
        name, specialty = await _doctor_facts(session, entry.doctor_id, doctors)
        first, last = formatting.day_label(entry.first_day), formatting.day_label(entry.last_day)
        offer = None
        if held is not None:
            zone = ZoneInfo(timezone)
            offer = OfferRow(
                day=formatting.full_day_label(held.starts_at.astimezone(zone).date()),
                times=formatting.times(held.starts_at, held.ends_at, zone),
                zone=formatting.zone_label(timezone, held.starts_at),
                until=formatting.clock_time(held.expires_at, zone),
                confirm_url=f"/book/{entry.doctor_id}/held/{held.id}",
            )
        rows.append(
            WaitlistRow(
                id=entry.id,
                doctor=name,
                specialty=specialty,
                days=first if first == last else f"{first} – {last}",
                offer=offer,
            )
        )
    return rows


async def page_context(
    session: AsyncSession,
    actor: Viewer,
    settings: Settings,
    start: date | None = None,
    end: date | None = None,
) -> dict[str, Any]:
    shown = access.appointment_list(actor)
    if shown == "patient":
        now = clock.now()
        coming, _more = await scheduling.list_appointments(
            session=session, actor=actor, start=now, limit=LIST_LIMIT
        )
        # A cancelled appointment is no longer "upcoming": it is listed with the earlier ones.
        upcoming = [item for item in coming if item.status in LIVE]
        called_off = [item for item in coming if item.status not in LIVE]
        past, _more = await scheduling.list_appointments(
            session=session,
            actor=actor,
            start=now - timedelta(days=365),
            end=now,
            limit=LIST_LIMIT,
        )
        rows = await appointment_rows(session, upcoming, with_patients=False)
        return {
            "upcoming": await _movable(session, settings, actor, rows, upcoming),
            "past": list(
                reversed(await appointment_rows(session, [*past, *called_off], with_patients=False))
            ),
            "waitlist": await _waitlist_rows(session, actor),
        }
    # Staff see a range of the clinic's days, on its clock.
    timezone = await formatting.clinic_zone(session)
    zone = ZoneInfo(timezone)
    today = clock.now().astimezone(zone).date()
    first = start or today
    last = max(end or first, first)
    found, more = await scheduling.list_appointments(
        session=session,
        actor=actor,
        start=formatting.midnight(first, zone),
        end=formatting.midnight(last + timedelta(days=1), zone),
        limit=LIST_LIMIT,
    )
    rows = await appointment_rows(session, found, with_patients=True)
    groups: list[DayGroup] = []
    for row in rows:
        if not groups or groups[-1].label != row.day:
            groups.append(DayGroup(row.day, []))
        groups[-1].rows.append(row)
    monday = formatting.monday(today)
    return {
        "groups": groups,
        "count": len(rows),
        "truncated": more is not None,
        "limit": LIST_LIMIT,
        "zone": formatting.zone_label(timezone, formatting.midnight(first, zone)),
        "range_label": formatting.full_day_label(first)
        if first == last
        else f"{formatting.full_day_label(first)} – {formatting.full_day_label(last)}",
        "range_from": first.isoformat(),
        "range_to": last.isoformat(),
        "shortcuts": [
            (_("Today"), today, today),
            (_("This week"), monday, monday + timedelta(days=6)),
            (_("Next week"), monday + timedelta(days=7), monday + timedelta(days=13)),
        ],
        "show_doctor": shown != "doctor",
    }


def _appointments_url(start: date | None, end: date | None, **flags: object) -> str:
    params = {"from": start, "to": end, **flags}
    kept = {key: str(value) for key, value in params.items() if value not in (None, "")}
    return "/appointments" + (f"?{urlencode(kept)}" if kept else "")


@router.get("/appointments")
async def appointments(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    booked: uuid.UUID | None = None,
    done: Literal["rescheduled"] | None = None,
    cancelled: bool = False,
    waitlisted: bool = False,
    left: bool = False,
) -> Response:
    viewer = people.viewer(request)
    context = await page_context(session, viewer, settings, parse_date(start), parse_date(end))
    notice = None
    if booked is not None:
        notice = _("Your appointment is booked.")
    elif done == reschedule.DONE:
        notice = _("Your appointment has a new time.")
    elif cancelled:
        notice = _("The appointment is cancelled.")
    elif waitlisted:
        notice = _("You are on the waitlist. We will text you when a time frees up.")
    elif left:
        notice = _("You have left the waitlist.")
    return render(
        request,
        "scheduling/appointments.html",
        {**context, "notice": notice, "highlight": booked},
    )


@router.post("/appointments/{appointment_id}/cancel", dependencies=[CsrfProtected])
async def cancel(
    request: Request,
    appointment_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    start: Annotated[str | None, Form(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Form(alias="to", max_length=10)] = None,
) -> Response:
    first, last = parse_date(start), parse_date(end)
    try:
        await scheduling.cancel(
            session=session,
            settings=settings,
            actor=user,
            appointment_id=appointment_id,
        )
    except AppError as exc:
        page = partial(page_context, session, people.viewer(request), settings, first, last)
        return await refusal_page(
            request,
            session,
            exc,
            "scheduling/appointments.html",
            page,
            notice=None,
            highlight=appointment_id,
        )
    return RedirectResponse(_appointments_url(first, last, cancelled=1), status_code=303)


@router.post("/waitlist/{entry_id}/leave", dependencies=[CsrfProtected])
async def leave_waitlist(
    request: Request,
    entry_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
) -> Response:
    try:
        await scheduling.leave_waitlist(
            session=session, settings=settings, actor=user, entry_id=entry_id
        )
    except AppError as exc:
        page = partial(page_context, session, people.viewer(request), settings)
        return await refusal_page(
            request,
            session,
            exc,
            "scheduling/appointments.html",
            page,
            notice=None,
            highlight=None,
        )
    return RedirectResponse(_appointments_url(None, None, left=1), status_code=303)


@router.post("/appointments/{appointment_id}/reschedule", dependencies=[CsrfProtected])
async def move(
    request: Request,
    appointment_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    starts_at: Annotated[str, Form(max_length=40)],
    back: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    """Move the appointment to one of the offered times, then back to the page it was moved
    from (the appointments or the patient's home); a refusal (taken meanwhile, too late to
    change) shows the appointments with its reason."""
    try:
        await reschedule.move(
            session=session,
            settings=settings,
            actor=user,
            appointment_id=appointment_id,
            starts_at=starts_at,
        )
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            "scheduling/appointments.html",
            partial(page_context, session, people.viewer(request), settings),
            notice=None,
            highlight=appointment_id,
        )
    target = safe_next(back, "/appointments").split("?")[0]
    return RedirectResponse(f"{target}?done={reschedule.DONE}", status_code=303)
