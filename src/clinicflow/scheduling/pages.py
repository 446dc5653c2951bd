"""Booking pages: patients book and cancel, doctors keep their week and see their list, and
the front desk books for a patient.

Every rule is the scheduling service's. These routes turn forms into its arguments, and its
answers (and refusals) into pages. Times are shown in the doctor's timezone, which each page
names, because that is the clock the doctor's week is written in.
"""

from __future__ import annotations

import re
import uuid
import zoneinfo
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, partial
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import i18n
from clinicflow.config import Settings
from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.deps import ClientInfo, CsrfProtected, PageUser, Session, SettingsDep, Viewer
from clinicflow.i18n import gettext as _
from clinicflow.identity import access as identity_access
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.routing import TransactionalRoute
from clinicflow.scheduling import schemas
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.models import Appointment, Mode
from clinicflow.scheduling.slots import WEEKDAYS
from clinicflow.web.templating import drop_refused_changes, render, render_refusal

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

_reason = TypeAdapter(schemas.Reason)
SearchQuery = Annotated[str | None, Query(max_length=100)]
DateQuery = Annotated[str | None, Query(max_length=10)]
StartsAt = Annotated[schemas.Instant, Form()]
ReasonField = Annotated[str, Form(max_length=2000)]
DayField = Annotated[str, Form(max_length=500)]
# Refusals after which the week is shown again, so the patient can pick another time.
PICK_AGAIN = frozenset({ErrorCode.slot_taken, ErrorCode.slot_unavailable})
PATIENT_RESULTS = 20
LIST_LIMIT = 200
RANGE_SEPARATOR = "–"
_RANGE = re.compile(r"^(\d{1,2})[:.](\d{2})\s*(?:-|–|—|to)\s*(\d{1,2})[:.](\d{2})$")


# --- what the templates show ------------------------------------------------------------------


@dataclass(frozen=True)
class DoctorCard:
    id: uuid.UUID
    name: str
    specialty: str
    bio: str


@dataclass(frozen=True)
class PatientCard:
    id: uuid.UUID
    name: str
    phone: str


@dataclass(frozen=True)
class SlotChoice:
    starts_at: str  # ISO 8601 in UTC: what the form posts back
    label: str  # "09:00" in the doctor's zone


@dataclass(frozen=True)
class DayColumn:
    day: date
    label: str
    is_today: bool
    is_past: bool
    slots: list[SlotChoice]


@dataclass(frozen=True)
class WeekView:
    doctor: DoctorCard
    zone: str
    label: str
    previous_url: str | None
    next_url: str
    days: list[DayColumn]
    # What availability.js needs to keep the week live: the page to fetch it again from
    # (a refused form answers on a POST address), and the week's span in UTC.
    url: str
    starts_at: str
    ends_at: str

    @property
    def has_slots(self) -> bool:
        return any(day.slots for day in self.days)


@dataclass(frozen=True)
class HeldSlot:
    starts_at: str  # ISO, posted back by the confirm form
    local_day: date
    day: str
    times: str
    zone: str
    until: str | None  # when the hold ends, in the doctor's zone


@dataclass(frozen=True)
class AppointmentRow:
    id: uuid.UUID
    day: str
    times: str
    zone: str
    doctor: str
    specialty: str
    patient: str
    mode: str
    status: str
    reason: str
    can_cancel: bool


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


# --- helpers ----------------------------------------------------------------------------------


def _viewer(request: Request) -> Viewer:
    """The signed-in user as plain values: still readable after a refusal's rollback."""
    viewer: Viewer = request.state.viewer
    return viewer


def _locale() -> str:
    return i18n.current_language()


def _day_label(day: date) -> str:
    return format_date(day, "EEEE d MMMM", locale=_locale())


def _full_day_label(day: date) -> str:
    return format_date(day, "EEEE d MMMM y", locale=_locale())


def _week_label(monday: date) -> str:
    sunday = monday + timedelta(days=6)
    first = format_date(monday, "d MMM", locale=_locale())
    return f"{first} – {format_date(sunday, 'd MMM y', locale=_locale())}"


def _zone_label(name: str, at: datetime) -> str:
    """The zone's name and its offset at that moment, like Africa/Nairobi (UTC+03:00)."""
    offset = at.astimezone(ZoneInfo(name)).strftime("%z")
    if name == "UTC" or not offset:
        return name
    return f"{name} (UTC{offset[:3]}:{offset[3:]})"


def _times(starts: datetime, ends: datetime, zone: ZoneInfo) -> str:
    return f"{starts.astimezone(zone):%H:%M}{RANGE_SEPARATOR}{ends.astimezone(zone):%H:%M}"


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _parse_date(value: str | None) -> date | None:
    """A date from a query or form field; anything unreadable, or outside the calendar
    requests may name (`schemas.YEARS`, where a week's arithmetic cannot overflow), means
    "not given"."""
    try:
        parsed = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.year in schemas.YEARS else None


async def _doctor(session: AsyncSession, doctor_id: uuid.UUID) -> DoctorCard:
    doctor = await identity.get_doctor(session, doctor_id)
    assert doctor.doctor is not None  # get_doctor guarantees the profile
    return DoctorCard(doctor.id, doctor.name, doctor.doctor.specialty, doctor.doctor.bio)


async def _doctors(session: AsyncSession, query: str | None) -> list[DoctorCard]:
    found = await identity.search_doctors(session, query)
    return [
        DoctorCard(d.id, d.name, d.doctor.specialty, d.doctor.bio)
        for d in found
        if d.doctor is not None
    ]


async def _patient(session: AsyncSession, patient_id: uuid.UUID) -> PatientCard:
    patient = await identity.get_patient(session, patient_id)
    return PatientCard(patient.id, patient.name, patient.phone or "")


async def _find_patients(session: AsyncSession, actor: Actor, query: str) -> list[PatientCard]:
    found = await identity.find_patients(
        session=session, actor=actor, query=query, limit=PATIENT_RESULTS
    )
    return [PatientCard(p.id, p.name, p.phone or "") for p in found]


# --- the week of free times -------------------------------------------------------------------


async def _week_view(
    session: AsyncSession,
    settings: Settings,
    *,
    doctor_id: uuid.UUID,
    week: date | datetime | None,
    viewer_id: uuid.UUID | None,
    url_for_week: Callable[[date], str],
) -> WeekView:
    doctor = await _doctor(session, doctor_id)
    availability = await scheduling.get_availability(session=session, doctor_id=doctor_id)
    zone = ZoneInfo(availability.timezone)
    today = clock.now().astimezone(zone).date()
    if isinstance(week, datetime):  # the week of a time someone tried to take
        week = week.astimezone(zone).date()
    this_monday = _monday(today)
    monday = max(_monday(week or today), this_monday)
    start = _midnight(monday, zone)
    end = _midnight(monday + timedelta(days=7), zone)
    timezone, free = await scheduling.free_slots(
        session=session,
        settings=settings,
        doctor_id=doctor_id,
        start=start,
        end=end,
        viewer_id=viewer_id,
    )
    zone = ZoneInfo(timezone)
    by_day: dict[date, list[SlotChoice]] = {}
    for starts, _ends in free:
        local = starts.astimezone(zone)
        by_day.setdefault(local.date(), []).append(
            SlotChoice(starts.astimezone(UTC).isoformat(), f"{local:%H:%M}")
        )
    days = [monday + timedelta(days=offset) for offset in range(7)]
    return WeekView(
        doctor=doctor,
        zone=_zone_label(timezone, start),
        label=_week_label(monday),
        previous_url=url_for_week(monday - timedelta(days=7)) if monday > this_monday else None,
        next_url=url_for_week(monday + timedelta(days=7)),
        days=[DayColumn(d, _day_label(d), d == today, d < today, by_day.get(d, [])) for d in days],
        url=url_for_week(monday),
        starts_at=start.isoformat(),
        ends_at=end.isoformat(),
    )


def _book_week_url(doctor_id: uuid.UUID) -> Callable[[date], str]:
    return lambda monday: f"/book/{doctor_id}?{urlencode({'week': monday.isoformat()})}"


def _desk_url(**params: object) -> str:
    kept = {key: str(value) for key, value in params.items() if value not in (None, "")}
    return "/desk/book" + (f"?{urlencode(kept)}" if kept else "")


def _desk_week_url(patient_id: uuid.UUID, doctor_id: uuid.UUID) -> Callable[[date], str]:
    return lambda monday: _desk_url(patient=patient_id, doctor=doctor_id, week=monday)


async def _held(
    session: AsyncSession, doctor_id: uuid.UUID, starts: datetime, ends: datetime, until: datetime
) -> HeldSlot:
    availability = await scheduling.get_availability(session=session, doctor_id=doctor_id)
    zone = ZoneInfo(availability.timezone)
    return HeldSlot(
        starts_at=starts.astimezone(UTC).isoformat(),
        local_day=starts.astimezone(zone).date(),
        day=_full_day_label(starts.astimezone(zone).date()),
        times=_times(starts, ends, zone),
        zone=_zone_label(availability.timezone, starts),
        until=f"{until.astimezone(zone):%H:%M}",
    )


def _reason_error() -> str:
    return _("Write the reason in plain text, at most 500 characters.")


# --- patients: choose a doctor, a time, confirm -----------------------------------------------


@router.get("/book")
async def choose_doctor(
    request: Request, session: Session, user: PageUser, q: SearchQuery = None
) -> Response:
    doctors = await _doctors(session, q)
    return render(request, "scheduling/doctors.html", {"doctors": doctors, "q": q or ""})


async def _book_week_page(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    doctor_id: uuid.UUID,
    week: date | datetime | None,
    waitlist_days: tuple[str, str] | None = None,
) -> dict[str, Any]:
    view = await _week_view(
        session,
        settings,
        doctor_id=doctor_id,
        week=week,
        viewer_id=_viewer(request).id,
        url_for_week=_book_week_url(doctor_id),
    )
    # The waitlist form proposes the days of the week on show that are still to come.
    coming = [day.day.isoformat() for day in view.days if not day.is_past]
    first, last = waitlist_days or (coming[0], coming[-1])
    return {
        "week": view,
        "hold_action": f"/book/{doctor_id}/hold",
        "hidden": {},
        "waitlist_action": f"/book/{doctor_id}/waitlist",
        "waitlist_from": first,
        "waitlist_to": last,
    }


@router.get("/book/{doctor_id}")
async def doctor_week(
    request: Request,
    doctor_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    week: DateQuery = None,
) -> Response:
    context = await _book_week_page(request, session, settings, doctor_id, _parse_date(week))
    return render(request, "scheduling/week.html", context)


@router.post("/book/{doctor_id}/hold", dependencies=[CsrfProtected])
async def hold(
    request: Request,
    doctor_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    starts_at: StartsAt,
) -> Response:
    try:
        held = await scheduling.hold_slot(
            session=session, settings=settings, actor=user, doctor_id=doctor_id, starts_at=starts_at
        )
    except AppError as exc:
        await drop_refused_changes(session, exc)
        context = await _book_week_page(request, session, settings, doctor_id, starts_at)
        return render_refusal(request, exc, "scheduling/week.html", context)
    context = await _patient_confirm_context(
        session, settings, doctor_id, held.starts_at, held.ends_at, held.expires_at
    )
    return render(request, "scheduling/confirm.html", context)


@router.post("/book/{doctor_id}/waitlist", dependencies=[CsrfProtected])
async def join_waitlist(
    request: Request,
    doctor_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    client: ClientInfo,
    start: Annotated[str, Form(alias="from", max_length=10)] = "",
    end: Annotated[str, Form(alias="to", max_length=10)] = "",
) -> Response:
    first, last = _parse_date(start), _parse_date(end)

    async def again(exc: AppError) -> HTMLResponse:
        context = await _book_week_page(
            request, session, settings, doctor_id, first, waitlist_days=(start, end)
        )
        return render_refusal(request, exc, "scheduling/week.html", context)

    if first is None or last is None:
        field = "from" if first is None else "to"
        message = _("Choose the first and the last day.")
        return await again(AppError(ErrorCode.validation_error, message, {"field": field}))
    try:
        await scheduling.join_waitlist(
            session=session,
            settings=settings,
            actor=user,
            doctor_id=doctor_id,
            first_day=first,
            last_day=last,
            client_ip=client.ip,
        )
    except AppError as exc:
        await drop_refused_changes(session, exc)
        return await again(exc)
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
        held = await scheduling.get_hold(session=session, actor=user, hold_id=hold_id)
    except AppError:
        held = None
    if held is None or held.doctor_id != doctor_id:
        context = await _book_week_page(request, session, settings, doctor_id, None)
        gone = _("That time is no longer held for you. Pick another, or wait for the next offer.")
        return render(request, "scheduling/week.html", {**context, "error": gone}, status_code=404)
    minutes = round((held.expires_at - held.created_at).total_seconds() / 60)
    context = await _patient_confirm_context(
        session,
        settings,
        doctor_id,
        held.starts_at,
        held.ends_at,
        held.expires_at,
        hold_minutes=minutes,
    )
    return render(request, "scheduling/confirm.html", context)


async def _patient_confirm_context(
    session: AsyncSession,
    settings: Settings,
    doctor_id: uuid.UUID,
    starts: datetime,
    ends: datetime,
    until: datetime,
    **extra: Any,
) -> dict[str, Any]:
    held = await _held(session, doctor_id, starts, ends, until)
    return {
        "doctor": await _doctor(session, doctor_id),
        "held": held,
        "hold_minutes": settings.hold_minutes,
        "action": f"/book/{doctor_id}/confirm",
        "hidden": {"held_until": until.astimezone(UTC).isoformat()},
        "back_url": _book_week_url(doctor_id)(_monday(held.local_day)),
        "mode": Mode.in_person.value,
        "reason": "",
        **extra,
    }


def _held_until(value: str | None, starts: datetime) -> datetime:
    """The hold's end as the confirm form carried it (display only), else the slot's start."""
    try:
        parsed = datetime.fromisoformat(value) if value else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or parsed.year not in schemas.YEARS:
        return starts
    return parsed


@router.post("/book/{doctor_id}/confirm", dependencies=[CsrfProtected])
async def confirm(
    request: Request,
    doctor_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    client: ClientInfo,
    starts_at: StartsAt,
    mode: Annotated[Mode, Form()] = Mode.in_person,
    reason: ReasonField = "",
    held_until: Annotated[str | None, Form(max_length=40)] = None,
) -> Response:
    async def pick_again(exc: AppError) -> Response:
        week = await _book_week_page(request, session, settings, doctor_id, starts_at)
        return render_refusal(request, exc, "scheduling/week.html", week)

    return await _book_from_form(
        request,
        session,
        settings,
        user,
        client,
        doctor_id=doctor_id,
        patient_id=None,
        starts_at=starts_at,
        mode=mode,
        reason=reason,
        held_until=held_until,
        confirm_context=partial(_patient_confirm_context, session, settings, doctor_id, starts_at),
        pick_again=pick_again,
        booked_url=lambda appointment: f"/appointments?booked={appointment.id}",
    )


ConfirmContext = Callable[..., Awaitable[dict[str, Any]]]


async def _book_from_form(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    user: Actor,
    client: identity.Client,
    *,
    doctor_id: uuid.UUID,
    patient_id: uuid.UUID | None,
    starts_at: datetime,
    mode: Mode,
    reason: str,
    held_until: str | None,
    confirm_context: ConfirmContext,
    pick_again: Callable[[AppError], Awaitable[Response]],
    booked_url: Callable[[Appointment], str],
) -> Response:
    """Book from a confirm form, for the patient or the desk: the confirm page again with
    the refusal, or the week when the time is gone, or on to `booked_url`.
    `confirm_context(ends, until, **extra)` builds that page for whoever is booking."""

    async def again(error: str, status: int) -> HTMLResponse:
        availability = await scheduling.get_availability(session=session, doctor_id=doctor_id)
        ends = starts_at + timedelta(minutes=availability.slot_minutes)
        context = await confirm_context(
            ends, _held_until(held_until, starts_at), mode=mode.value, reason=reason, error=error
        )
        return render(request, "scheduling/confirm.html", context, status_code=status)

    try:
        checked_reason = _reason.validate_python(reason.strip())
    except ValidationError:
        return await again(_reason_error(), 422)
    try:
        appointment = await scheduling.book(
            session=session,
            settings=settings,
            actor=user,
            doctor_id=doctor_id,
            starts_at=starts_at,
            mode=mode,
            reason=checked_reason,
            patient_id=patient_id,
            client_ip=client.ip,
        )
    except AppError as exc:
        await drop_refused_changes(session, exc)
        if exc.code in PICK_AGAIN:
            return await pick_again(exc)
        response = await again(exc.message, exc.status)
        response.headers.update(exc.headers)
        return response
    return RedirectResponse(booked_url(appointment), status_code=303)


# --- everyone: the list of appointments -------------------------------------------------------


async def _doctor_facts(
    session: AsyncSession, doctor_id: uuid.UUID, cache_: dict[uuid.UUID, tuple[str, str, str]]
) -> tuple[str, str, str]:
    """(name, specialty, timezone) of an appointment's doctor, even one no longer active."""
    if doctor_id not in cache_:
        try:
            card = await _doctor(session, doctor_id)
            availability = await scheduling.get_availability(session=session, doctor_id=doctor_id)
            cache_[doctor_id] = (card.name, card.specialty, availability.timezone)
        except AppError:
            cache_[doctor_id] = ("—", "", "UTC")
    return cache_[doctor_id]


async def _patient_name(
    session: AsyncSession, patient_id: uuid.UUID, cache_: dict[uuid.UUID, str]
) -> str:
    if patient_id not in cache_:
        try:
            cache_[patient_id] = (await _patient(session, patient_id)).name
        except AppError:
            cache_[patient_id] = "—"
    return cache_[patient_id]


async def _rows(
    session: AsyncSession, appointments: Sequence[Appointment], *, with_patients: bool
) -> list[AppointmentRow]:
    now = clock.now()
    doctors: dict[uuid.UUID, tuple[str, str, str]] = {}
    patients: dict[uuid.UUID, str] = {}
    rows = []
    for item in appointments:
        name, specialty, timezone = await _doctor_facts(session, item.doctor_id, doctors)
        zone = ZoneInfo(timezone)
        rows.append(
            AppointmentRow(
                id=item.id,
                day=_full_day_label(item.starts_at.astimezone(zone).date()),
                times=_times(item.starts_at, item.ends_at, zone),
                zone=_zone_label(timezone, item.starts_at),
                doctor=name,
                specialty=specialty,
                patient=(
                    await _patient_name(session, item.patient_id, patients) if with_patients else ""
                ),
                mode=item.mode.value,
                status=item.status.value,
                reason=item.reason,
                can_cancel=item.status in scheduling.LIVE and item.starts_at > now,
            )
        )
    return rows


async def _waitlist_rows(session: AsyncSession, actor: Viewer) -> list[WaitlistRow]:
    doctors: dict[uuid.UUID, tuple[str, str, str]] = {}
    rows = []
    for item in await scheduling.my_waitlist(session=session, actor=actor):
        entry, held = item.entry, item.held
        name, specialty, timezone = await _doctor_facts(session, entry.doctor_id, doctors)
        first, last = _day_label(entry.first_day), _day_label(entry.last_day)
        offer = None
        if held is not None:
            zone = ZoneInfo(timezone)
            offer = OfferRow(
                day=_full_day_label(held.starts_at.astimezone(zone).date()),
                times=_times(held.starts_at, held.ends_at, zone),
                zone=_zone_label(timezone, held.starts_at),
                until=f"{held.expires_at.astimezone(zone):%H:%M}",
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


async def _appointments_context(
    session: AsyncSession, actor: Viewer, start: date | None, end: date | None
) -> dict[str, Any]:
    if actor.role is Role.patient:
        now = clock.now()
        upcoming, _more = await scheduling.list_appointments(
            session=session, actor=actor, start=now, limit=LIST_LIMIT
        )
        past, _more = await scheduling.list_appointments(
            session=session,
            actor=actor,
            start=now - timedelta(days=365),
            end=now,
            limit=LIST_LIMIT,
        )
        return {
            "upcoming": await _rows(session, upcoming, with_patients=False),
            "past": list(reversed(await _rows(session, past, with_patients=False))),
            "waitlist": await _waitlist_rows(session, actor),
        }
    # Staff see a range of days; a doctor's days are counted in their own zone.
    timezone = "UTC"
    if actor.role is Role.doctor:
        availability = await scheduling.get_availability(session=session, doctor_id=actor.id)
        timezone = availability.timezone
    zone = ZoneInfo(timezone)
    today = clock.now().astimezone(zone).date()
    first = start or today
    last = max(end or first, first)
    found, more = await scheduling.list_appointments(
        session=session,
        actor=actor,
        start=_midnight(first, zone),
        end=_midnight(last + timedelta(days=1), zone),
        limit=LIST_LIMIT,
    )
    rows = await _rows(session, found, with_patients=True)
    groups: list[DayGroup] = []
    for row in rows:
        if not groups or groups[-1].label != row.day:
            groups.append(DayGroup(row.day, []))
        groups[-1].rows.append(row)
    monday = _monday(today)
    return {
        "groups": groups,
        "count": len(rows),
        "truncated": more is not None,
        "limit": LIST_LIMIT,
        "zone": _zone_label(timezone, _midnight(first, zone)),
        "range_label": _full_day_label(first)
        if first == last
        else f"{_full_day_label(first)} – {_full_day_label(last)}",
        "range_from": first.isoformat(),
        "range_to": last.isoformat(),
        "shortcuts": [
            (_("Today"), today, today),
            (_("This week"), monday, monday + timedelta(days=6)),
            (_("Next week"), monday + timedelta(days=7), monday + timedelta(days=13)),
        ],
        "show_doctor": actor.role is not Role.doctor,
    }


def _appointments_url(start: date | None, end: date | None, **flags: object) -> str:
    params = {"from": start, "to": end, **flags}
    kept = {key: str(value) for key, value in params.items() if value not in (None, "")}
    return "/appointments" + (f"?{urlencode(kept)}" if kept else "")


@router.get("/appointments")
async def appointments(
    request: Request,
    session: Session,
    user: PageUser,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    booked: uuid.UUID | None = None,
    cancelled: bool = False,
    waitlisted: bool = False,
    left: bool = False,
) -> Response:
    viewer = _viewer(request)
    context = await _appointments_context(session, viewer, _parse_date(start), _parse_date(end))
    notice = None
    if booked is not None:
        notice = _("Your appointment is booked.")
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
    client: ClientInfo,
    start: Annotated[str | None, Form(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Form(alias="to", max_length=10)] = None,
) -> Response:
    first, last = _parse_date(start), _parse_date(end)
    try:
        await scheduling.cancel(
            session=session,
            settings=settings,
            actor=user,
            appointment_id=appointment_id,
            client_ip=client.ip,
        )
    except AppError as exc:
        await drop_refused_changes(session, exc)
        context = await _appointments_context(session, _viewer(request), first, last)
        return render_refusal(
            request,
            exc,
            "scheduling/appointments.html",
            {**context, "notice": None, "highlight": appointment_id},
        )
    return RedirectResponse(_appointments_url(first, last, cancelled=1), status_code=303)


@router.post("/waitlist/{entry_id}/leave", dependencies=[CsrfProtected])
async def leave_waitlist(
    request: Request,
    entry_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    client: ClientInfo,
) -> Response:
    try:
        await scheduling.leave_waitlist(
            session=session, settings=settings, actor=user, entry_id=entry_id, client_ip=client.ip
        )
    except AppError as exc:
        await drop_refused_changes(session, exc)
        context = await _appointments_context(session, _viewer(request), None, None)
        return render_refusal(
            request,
            exc,
            "scheduling/appointments.html",
            {**context, "notice": None, "highlight": None},
        )
    return RedirectResponse(_appointments_url(None, None, left=1), status_code=303)


# --- doctors: the weekly schedule -------------------------------------------------------------


def _parse_ranges(text: str) -> list[tuple[str, str]]:
    """Parse a day's hours: "08:00–12:00, 14:00-18:00" -> [("08:00", "12:00"), ("14:00", "18:00")]."""
    pairs = []
    for chunk in re.split(r"[,;\n]+", text):
        chunk = chunk.strip()
        if not chunk:
            continue
        match = _RANGE.match(chunk)
        if match is None:
            raise ValueError(chunk)
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError(chunk)
        pairs.append((f"{h1:02d}:{m1:02d}", f"{h2:02d}:{m2:02d}"))
    return pairs


def _parse_exceptions(text: str) -> list[dict[str, Any]]:
    """One date a line, alone for a day off or followed by that day's own hours."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        day, _sep, hours = line.partition(" ")
        found.append({"date": date.fromisoformat(day), "intervals": _parse_ranges(hours)})
    return found


def _show_ranges(pairs: Sequence[Sequence[str]]) -> str:
    return ", ".join(f"{start}{RANGE_SEPARATOR}{end}" for start, end in pairs)


def _show_exceptions(items: Sequence[dict[str, Any]]) -> str:
    lines = []
    for item in sorted(items, key=lambda entry: str(entry["date"])):
        hours = _show_ranges(item["intervals"])
        lines.append(f"{item['date']} {hours}".strip())
    return "\n".join(lines)


def _error_field(field: object) -> str | None:
    """The form field a service refusal points at ("weekly.mon[1]" -> "weekly_mon")."""
    if not isinstance(field, str):
        return None
    if field.startswith("weekly."):
        day = re.split(r"[.\[]", field)[1]
        return f"weekly_{day}" if day in WEEKDAYS else None
    if field.startswith("exceptions"):
        return "exceptions"
    if field in ("timezone", "slot_minutes"):
        return field
    return None


@cache
def _timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def _schedule_context(values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    day_names = {
        "mon": _("Monday"),
        "tue": _("Tuesday"),
        "wed": _("Wednesday"),
        "thu": _("Thursday"),
        "fri": _("Friday"),
        "sat": _("Saturday"),
        "sun": _("Sunday"),
    }
    return {
        "values": values,
        "errors": errors,
        "days": [(f"weekly_{day}", day_names[day]) for day in WEEKDAYS],
        "timezones": _timezones(),
    }


@router.get("/schedule")
async def schedule(
    request: Request, session: Session, user: PageUser, saved: bool = False
) -> Response:
    row = await scheduling.get_availability(session=session, doctor_id=user.id)
    values = {
        "timezone": row.timezone,
        "slot_minutes": str(row.slot_minutes),
        "exceptions": _show_exceptions(row.exceptions),
        **{f"weekly_{day}": _show_ranges(row.weekly.get(day, [])) for day in WEEKDAYS},
    }
    notice = _("Your week is saved. Patients see the new times now.") if saved else None
    return render(
        request, "scheduling/schedule.html", {**_schedule_context(values, {}), "notice": notice}
    )


@router.post("/schedule", dependencies=[CsrfProtected])
async def save_schedule(
    request: Request,
    session: Session,
    user: PageUser,
    timezone: Annotated[str, Form(max_length=64)],
    slot_minutes: Annotated[str, Form(max_length=6)] = "",
    exceptions: Annotated[str, Form(max_length=20000)] = "",
    weekly_mon: DayField = "",
    weekly_tue: DayField = "",
    weekly_wed: DayField = "",
    weekly_thu: DayField = "",
    weekly_fri: DayField = "",
    weekly_sat: DayField = "",
    weekly_sun: DayField = "",
) -> Response:
    days = dict(
        zip(
            WEEKDAYS,
            (weekly_mon, weekly_tue, weekly_wed, weekly_thu, weekly_fri, weekly_sat, weekly_sun),
            strict=True,
        )
    )
    values = {
        "timezone": timezone.strip(),
        "slot_minutes": slot_minutes.strip(),
        "exceptions": exceptions,
        **{f"weekly_{day}": text for day, text in days.items()},
    }
    errors: dict[str, str] = {}
    weekly: dict[str, list[tuple[str, str]]] = {}
    for day, text in days.items():
        try:
            pairs = _parse_ranges(text)
        except ValueError:
            errors[f"weekly_{day}"] = _("Write hours like 08:00–12:00, separated by commas.")
            continue
        if pairs:
            weekly[day] = pairs
    minutes: int | None = None
    if values["slot_minutes"]:
        if values["slot_minutes"].isdigit():
            minutes = int(values["slot_minutes"])
        else:
            errors["slot_minutes"] = _("Write the slot length as a number of minutes.")
    try:
        dated = _parse_exceptions(exceptions)
    except ValueError:
        errors["exceptions"] = _(
            "Write one date a line: 2026-12-25 for a day off, or 2026-12-24 09:00–12:00 for other hours."
        )
        dated = []
    if errors:
        context = _schedule_context(values, errors)
        message = _("Some fields need a fix; they are marked below.")
        return render(
            request, "scheduling/schedule.html", {**context, "error": message}, status_code=422
        )
    try:
        await scheduling.set_availability(
            session=session,
            actor=user,
            doctor_id=user.id,
            timezone=values["timezone"],
            slot_minutes=minutes,
            weekly=weekly,
            exceptions=dated,
        )
    except AppError as exc:
        await drop_refused_changes(session, exc)
        field = _error_field(exc.details.get("field"))
        context = _schedule_context(values, {field: exc.message} if field else {})
        return render_refusal(request, exc, "scheduling/schedule.html", context)
    return RedirectResponse("/schedule?saved=1", status_code=303)


# --- the front desk: book for a patient -------------------------------------------------------


async def _desk_context(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    *,
    q: str | None,
    patient_id: uuid.UUID | None,
    dq: str | None,
    doctor_id: uuid.UUID | None,
    week: date | datetime | None,
) -> dict[str, Any]:
    actor = _viewer(request)
    identity_access.require_front_desk(actor)
    context: dict[str, Any] = {"q": q or "", "dq": dq or "", "patient": None, "week": None}
    if patient_id is None:
        context["patients"] = await _find_patients(session, actor, q) if q else None
        return context
    context["patient"] = await _patient(session, patient_id)
    if doctor_id is None:
        context["doctors"] = await _doctors(session, dq)
        return context
    context["week"] = await _week_view(
        session,
        settings,
        doctor_id=doctor_id,
        week=week,
        viewer_id=patient_id,
        url_for_week=_desk_week_url(patient_id, doctor_id),
    )
    context["hold_action"] = "/desk/book/hold"
    context["hidden"] = {"patient_id": str(patient_id), "doctor_id": str(doctor_id)}
    return context


async def _booked_row(
    session: AsyncSession, actor: Viewer, appointment_id: uuid.UUID
) -> AppointmentRow:
    found = await scheduling.get_appointment(
        session=session, actor=actor, appointment_id=appointment_id
    )
    return (await _rows(session, [found], with_patients=True))[0]


@router.get("/desk/book")
async def desk(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    q: SearchQuery = None,
    patient: uuid.UUID | None = None,
    dq: SearchQuery = None,
    doctor: uuid.UUID | None = None,
    week: DateQuery = None,
    booked: uuid.UUID | None = None,
) -> Response:
    context = await _desk_context(
        request,
        session,
        settings,
        q=q,
        patient_id=patient,
        dq=dq,
        doctor_id=doctor,
        week=_parse_date(week),
    )
    if booked is not None:
        context["booked"] = await _booked_row(session, _viewer(request), booked)
    return render(request, "scheduling/desk.html", context)


async def _desk_week_again(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    exc: AppError,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID,
    week: datetime,
) -> HTMLResponse:
    context = await _desk_context(
        request,
        session,
        settings,
        q=None,
        patient_id=patient_id,
        dq=None,
        doctor_id=doctor_id,
        week=week,
    )
    return render_refusal(request, exc, "scheduling/desk.html", context)


async def _desk_confirm_context(
    session: AsyncSession,
    settings: Settings,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID,
    starts: datetime,
    ends: datetime,
    until: datetime,
    **extra: Any,
) -> dict[str, Any]:
    held = await _held(session, doctor_id, starts, ends, until)
    return {
        "doctor": await _doctor(session, doctor_id),
        "patient": await _patient(session, patient_id),
        "held": held,
        "hold_minutes": settings.hold_minutes,
        "action": "/desk/book",
        "hidden": {
            "patient_id": str(patient_id),
            "doctor_id": str(doctor_id),
            "held_until": until.astimezone(UTC).isoformat(),
        },
        "back_url": _desk_week_url(patient_id, doctor_id)(_monday(held.local_day)),
        "mode": Mode.in_person.value,
        "reason": "",
        **extra,
    }


@router.post("/desk/book/hold", dependencies=[CsrfProtected])
async def desk_hold(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    patient_id: Annotated[uuid.UUID, Form()],
    doctor_id: Annotated[uuid.UUID, Form()],
    starts_at: StartsAt,
) -> Response:
    identity_access.require_front_desk(user)
    try:
        held = await scheduling.hold_slot(
            session=session,
            settings=settings,
            actor=user,
            doctor_id=doctor_id,
            starts_at=starts_at,
            patient_id=patient_id,
        )
    except AppError as exc:
        await drop_refused_changes(session, exc)
        return await _desk_week_again(
            request, session, settings, exc, patient_id, doctor_id, starts_at
        )
    context = await _desk_confirm_context(
        session, settings, patient_id, doctor_id, held.starts_at, held.ends_at, held.expires_at
    )
    return render(request, "scheduling/confirm.html", context)


@router.post("/desk/book", dependencies=[CsrfProtected])
async def desk_book(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageUser,
    client: ClientInfo,
    patient_id: Annotated[uuid.UUID, Form()],
    doctor_id: Annotated[uuid.UUID, Form()],
    starts_at: StartsAt,
    mode: Annotated[Mode, Form()] = Mode.in_person,
    reason: ReasonField = "",
    held_until: Annotated[str | None, Form(max_length=40)] = None,
) -> Response:
    identity_access.require_front_desk(user)

    async def pick_again(exc: AppError) -> Response:
        return await _desk_week_again(
            request, session, settings, exc, patient_id, doctor_id, starts_at
        )

    return await _book_from_form(
        request,
        session,
        settings,
        user,
        client,
        doctor_id=doctor_id,
        patient_id=patient_id,
        starts_at=starts_at,
        mode=mode,
        reason=reason,
        held_until=held_until,
        confirm_context=partial(
            _desk_confirm_context, session, settings, patient_id, doctor_id, starts_at
        ),
        pick_again=pick_again,
        booked_url=lambda appointment: _desk_url(patient=patient_id, booked=appointment.id),
    )
