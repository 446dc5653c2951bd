"""Queue pages: the patient's waiting room, the front desk's queues, the doctor's queue, the
arrival (check-in) page and the public display board.

Every rule is the queue service's. These routes turn forms into its arguments and its
answers (and refusals) into pages; what changes while a page is open is kept current by
`static/js/queue.js` (patients), `queue-staff.js` (desk and doctor) and `queue-board.js`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import qrcode  # type: ignore[import-untyped]
import qrcode.image.svg  # type: ignore[import-untyped]
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import i18n
from clinicflow.config import Settings
from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.deps import (
    ClientInfo,
    CsrfProtected,
    OptionalPageUser,
    PageViewer,
    Session,
    SettingsDep,
    Viewer,
)
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.identity.models import PatientType
from clinicflow.identity.schemas import Role
from clinicflow.queue import access, schemas
from clinicflow.queue import service as queues
from clinicflow.queue.models import EntryStatus, Severity
from clinicflow.routing import TransactionalRoute
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.models import AppointmentStatus
from clinicflow.web.templating import drop_refused_changes, render, render_refusal

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

CodeField = Annotated[str, Form(max_length=32)]
CodeQuery = Annotated[str | None, Query(max_length=32)]
# A patient's "today" is each doctor's own day, so appointments a day either side are looked
# at and kept when they fall on their doctor's today.
NEAR = timedelta(days=1)
APPOINTMENT_LIMIT = 200


# --- what the templates show ------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInCard:
    appointment_id: uuid.UUID
    doctor: str
    patient: str
    time: str
    mode: str
    code: str
    qr: Markup | None


@dataclass(frozen=True)
class WalkInForm:
    doctor_id: str = ""
    phone: str = ""
    name: str = ""
    severity: str = Severity.routine.value
    patient_type: str = ""


@dataclass(frozen=True)
class DoctorOption:
    id: uuid.UUID
    name: str
    specialty: str


# --- helpers ----------------------------------------------------------------------------------


def _forbidden() -> AppError:
    return AppError(ErrorCode.forbidden, _("This page is not for your account."))


def _require_role(viewer: Viewer, role: Role) -> None:
    if viewer.role is not role:
        raise _forbidden()


def arrival_url(settings: Settings, code: str | None = None) -> str:
    """The absolute address a check-in QR code opens."""
    base = settings.public_url.rstrip("/") + "/queue/arrive"
    return f"{base}?{urlencode({'code': code})}" if code else base


def qr_svg(data: str, label: str) -> Markup:
    """An inline SVG QR code of `data`, drawn on the server (no image file, no script)."""
    code = qrcode.QRCode(border=2, image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(data)
    code.make(fit=True)
    svg: str = code.make_image().to_string(encoding="unicode")
    # Drop the fixed millimetre size so CSS sizes it; say what it is to screen readers.
    start = svg.index("<svg") + len("<svg")
    head, rest = svg[:start], svg[start:]
    for attribute in ("width", "height"):
        at = rest.find(f' {attribute}="')
        if at != -1:
            end = rest.index('"', at + len(attribute) + 3)
            rest = rest[:at] + rest[end + 1 :]
    escaped = Markup.escape(label)
    return Markup(f'{head} class="qr" role="img" aria-label="{escaped}"{rest}')  # noqa: S704


def _clock_label(at: datetime, zone: Any) -> str:
    return f"{at.astimezone(zone):%H:%M}"


def _severity_labels() -> dict[str, str]:
    return {
        Severity.emergency.value: _("Emergency"),
        Severity.urgent.value: _("Urgent"),
        Severity.routine.value: _("Routine"),
    }


def _patient_type_labels() -> dict[str, str]:
    return {
        PatientType.adult.value: _("Adult"),
        PatientType.child.value: _("Child"),
        PatientType.elderly.value: _("Elderly"),
        PatientType.pregnant.value: _("Pregnant"),
        PatientType.disabled.value: _("Disabled"),
    }


def _status_labels() -> dict[str, str]:
    return {
        EntryStatus.waiting.value: _("Waiting"),
        EntryStatus.in_consultation.value: _("In consultation"),
        EntryStatus.skipped.value: _("Missed their turn"),
        EntryStatus.no_show.value: _("Did not come"),
        EntryStatus.completed.value: _("Seen"),
    }


def _doctor_state_labels() -> dict[str, str]:
    return {
        "paused": _("The doctor has paused the queue for a moment."),
        "away": _("The doctor is away right now."),
        "serving": _("The doctor is seeing token {token}."),
        "idle": _("The doctor will call the next patient soon."),
    }


async def _todays_appointments(
    session: AsyncSession, actor: Actor, settings: Settings, *, with_qr: bool
) -> list[CheckInCard]:
    """Booked appointments on their doctor's today that the actor may see, to check in."""
    now = clock.now()
    found, _cursor = await scheduling.list_appointments(
        session=session,
        actor=actor,
        status=AppointmentStatus.booked,
        start=now - NEAR,
        end=now + NEAR,
        limit=APPOINTMENT_LIMIT,
    )
    people = await identity.names(
        session, {a.doctor_id for a in found} | {a.patient_id for a in found}
    )
    zones: dict[uuid.UUID, Any] = {}
    cards = []
    for appointment in found:
        if appointment.doctor_id not in zones:
            doctor = await identity.get_doctor(session, appointment.doctor_id)
            zones[appointment.doctor_id] = await queues.doctor_zone(session, doctor)
        zone = zones[appointment.doctor_id]
        if appointment.starts_at.astimezone(zone).date() != now.astimezone(zone).date():
            continue
        code = queues.check_in_code(settings, appointment.id)
        cards.append(
            CheckInCard(
                appointment_id=appointment.id,
                doctor=people.get(appointment.doctor_id, ""),
                patient=people.get(appointment.patient_id, ""),
                time=_clock_label(appointment.starts_at, zone),
                mode=appointment.mode.value,
                code=code,
                qr=qr_svg(arrival_url(settings, code), _("Check-in code {code}").format(code=code))
                if with_qr
                else None,
            )
        )
    return cards


# --- the patient's waiting room ---------------------------------------------------------------


def _waiting_room_text() -> dict[str, Any]:
    return {
        "ahead": {
            "zero": _("You are next."),
            "one": i18n.ngettext("{n} patient ahead of you", "{n} patients ahead of you", 1),
            "many": i18n.ngettext("{n} patient ahead of you", "{n} patients ahead of you", 2),
        },
        "minutes": _("About {minutes} min"),
        "at": _("around {time}"),
        "serving": _("Now serving: {token}"),
        "nobody_serving": _("Nobody has been called yet."),
        "doctor": _doctor_state_labels(),
        "turn_title": _("It's your turn"),
        "turn_body": _("Token {token}: {doctor} is ready for you."),
        "ready_done": _("The doctor knows you are ready."),
        "join_soon": _("Join opens when you are among the next 10."),
        "join_wait": _("The doctor will share the link when you are called."),
        "failed": _("That did not work. Check your connection and try again."),
        "alerts_on": _("Alerts are on."),
        "alerts_blocked": _("Notifications are blocked in this browser; keep this page open."),
        "status": _status_labels(),
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
        doctor = doctors[entry.doctor_id]
        meet_url = doctor.doctor.meet_url if doctor.doctor else None
        public = current.public()
        out = current.entry(entry).model_dump(mode="json")
        cards.append(
            {
                **out,
                "topic": queues.topic(entry.doctor_id, entry.day),
                "doctor_name": doctor.name,
                "consultation_url": f"/consultations/{entry.consultation_id}"
                if entry.consultation_id
                else None,
                "meet_url": meet_url if entry.online else None,
                "queue": public,
                "missed_message": _(
                    "I missed my turn in your queue today (token {token}). Can we talk?"
                ).format(token=entry.token),
            }
        )
    return {
        "places": cards,
        "appointments": await _todays_appointments(session, viewer, settings, with_qr=True),
        "config": {"me": str(viewer.id), "places": cards, "text": _waiting_room_text()},
    }


@router.get("/queue")
async def waiting_room(
    request: Request, session: Session, settings: SettingsDep, user: PageViewer
) -> Response:
    _require_role(user, Role.patient)
    context = await _waiting_room_context(session, user, settings)
    return render(request, "queue/waiting_room.html", context)


@router.post("/queue/check-in", dependencies=[CsrfProtected])
async def patient_check_in(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
    client: ClientInfo,
    appointment_id: Annotated[uuid.UUID, Form()],
) -> Response:
    _require_role(user, Role.patient)
    try:
        await queues.check_in(
            session=session,
            settings=settings,
            actor=user,
            appointment_id=appointment_id,
            client_ip=client.ip,
        )
    except AppError as exc:
        await drop_refused_changes(session, exc)
        context = await _waiting_room_context(session, user, settings)
        return render_refusal(request, exc, "queue/waiting_room.html", context)
    return RedirectResponse("/queue", status_code=303)


# --- arrival: the page a check-in QR code opens -----------------------------------------------


@router.get("/queue/arrive")
async def arrive(
    request: Request, session: Session, user: OptionalPageUser, code: CodeQuery = None
) -> Response:
    if user is None:
        target = "/queue/arrive" + (f"?{urlencode({'code': code})}" if code else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    if user.role is Role.patient and not code:
        return RedirectResponse("/queue", status_code=303)
    return render(request, "queue/arrive.html", {"code": code or "", "done": None})


@router.post("/queue/arrive", dependencies=[CsrfProtected])
async def arrive_check_in(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
    client: ClientInfo,
    code: CodeField,
) -> Response:
    try:
        entry, _created = await queues.check_in(
            session=session, settings=settings, actor=user, code=code, client_ip=client.ip
        )
    except AppError as exc:
        await drop_refused_changes(session, exc)
        return render_refusal(request, exc, "queue/arrive.html", {"code": code, "done": None})
    if user.role is Role.patient:
        return RedirectResponse("/queue", status_code=303)
    done = await _receipt(session, user, entry.id)
    return render(request, "queue/arrive.html", {"code": "", "done": done})


# --- the front desk ---------------------------------------------------------------------------


async def _receipt(session: AsyncSession, viewer: Viewer, entry_id: uuid.UUID) -> dict[str, Any]:
    """What the desk tells the patient after a walk-in or check-in: token, doctor, place."""
    entry = await access.get_entry_for(session, viewer, entry_id)
    current = await queues.state(session, await queues.queue_of(session, entry))
    names = await identity.names(session, {entry.patient_id, entry.doctor_id})
    out = current.entry(entry, names.get(entry.patient_id))
    return {
        "token": entry.token,
        "patient": names.get(entry.patient_id, ""),
        "doctor": names.get(entry.doctor_id, ""),
        "position": out.position,
        "minutes": out.estimated_wait_minutes,
    }


async def _desk_context(
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
    *,
    form: WalkInForm | None = None,
    done: uuid.UUID | None = None,
) -> dict[str, Any]:
    access.require_front_desk(viewer)
    doctors = await identity.search_doctors(session)
    queue_data = []
    for doctor in doctors:
        current, entries = await queues.queue_for(
            session=session, actor=viewer, doctor_id=doctor.id, day=None
        )
        names = await queues.visible_names(session, viewer, doctor.id, entries)
        queue_data.append(
            {
                "doctor_id": str(doctor.id),
                "doctor_name": doctor.name,
                "topic": queues.topic(doctor.id, current.queue.day),
                "queue": queues.queue_out(current, entries, names).model_dump(mode="json"),
            }
        )
    receipt = None
    if done is not None:
        try:
            receipt = await _receipt(session, viewer, done)
        except AppError:
            receipt = None
    return {
        "doctors": [
            DoctorOption(d.id, d.name, d.doctor.specialty if d.doctor else "") for d in doctors
        ],
        "form": form or WalkInForm(),
        "severity_labels": _severity_labels(),
        "patient_type_labels": _patient_type_labels(),
        "appointments": await _todays_appointments(session, viewer, settings, with_qr=False),
        "receipt": receipt,
        "queues": queue_data,
        "config": {"role": "desk", "queues": queue_data, "text": _staff_text()},
    }


def _staff_text() -> dict[str, Any]:
    return {
        "status": _status_labels(),
        "severity": _severity_labels(),
        "patient_type": _patient_type_labels(),
        "doctor": _doctor_state_labels(),
        "token": _("Token {token}"),
        "serving": _("Now serving: {token}"),
        "nobody_serving": _("Nobody has been called yet."),
        "empty": _("Nobody is waiting."),
        "waiting_count": _("Waiting: {count}"),
        "ready": _("Ready"),
        "not_ready": _("Not ready yet"),
        "online": _("Online"),
        "in_person": _("In person"),
        "unnamed": _("Patient"),
        "choose": _("Choose a patient"),
        "moved": _("Moved."),
        "failed": _("That did not work. Check your connection and try again."),
        "no_current": _("Nobody is with you. Call the next patient when you are ready."),
        "chart": _("Patient chart"),
        "paused": _("Paused"),
        "pause": _("Pause"),
        "resume": _("Resume"),
        "recall": _("Call again"),
        "no_show": _("No-show"),
        "missed": _("Missed their turn"),
        "called_at": _("Called at {time}"),
    }


@router.get("/desk/queue")
async def desk_queue(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
    done: uuid.UUID | None = None,
) -> Response:
    context = await _desk_context(session, user, settings, done=done)
    return render(request, "queue/desk.html", context)


@router.post("/desk/queue/walk-in", dependencies=[CsrfProtected])
async def desk_walk_in(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
    client: ClientInfo,
    doctor_id: Annotated[str, Form(max_length=64)] = "",
    phone: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=240)] = "",
    severity: Annotated[str, Form(max_length=16)] = Severity.routine.value,
    patient_type: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    access.require_front_desk(user)
    form = WalkInForm(doctor_id, phone, name, severity, patient_type)
    try:
        body = schemas.WalkInIn.model_validate(
            {
                "doctor_id": doctor_id,
                "phone": phone,
                "name": name,
                "severity": severity,
                "patient_type": patient_type or None,
            }
        )
    except ValidationError as exc:
        fields = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        context = await _desk_context(session, user, settings, form=form)
        return render(
            request,
            "queue/desk.html",
            {**context, "error": _walk_in_problem(fields)},
            status_code=422,
        )
    try:
        entry = await queues.walk_in(
            session=session,
            actor=user,
            doctor_id=body.doctor_id,
            phone=body.phone,
            name=body.name,
            severity=body.severity,
            patient_type=body.patient_type,
            client=client,
        )
    except AppError as exc:
        await drop_refused_changes(session, exc)
        context = await _desk_context(session, user, settings, form=form)
        return render_refusal(request, exc, "queue/desk.html", context)
    return RedirectResponse(f"/desk/queue?done={entry.id}", status_code=303)


def _walk_in_problem(fields: set[str]) -> str:
    if "doctor_id" in fields:
        return _("Choose a doctor.")
    if "phone" in fields:
        return _("Write the phone number with its country code, like +254712345678.")
    if "name" in fields:
        return _("Write the patient's name.")
    return _("Choose how urgent it is and the kind of patient from the lists.")


@router.post("/desk/queue/check-in", dependencies=[CsrfProtected])
async def desk_check_in(
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: PageViewer,
    client: ClientInfo,
    appointment_id: Annotated[uuid.UUID | None, Form()] = None,
    code: Annotated[str | None, Form(max_length=32)] = None,
) -> Response:
    access.require_front_desk(user)
    try:
        if appointment_id is None and not (code or "").strip():
            raise AppError(
                ErrorCode.validation_error,
                _("Type the check-in code from the patient's screen."),
                {"field": "code"},
            )
        entry, _created = await queues.check_in(
            session=session,
            settings=settings,
            actor=user,
            appointment_id=appointment_id,
            code=code,
            client_ip=client.ip,
        )
    except AppError as exc:
        await drop_refused_changes(session, exc)
        context = await _desk_context(session, user, settings)
        return render_refusal(request, exc, "queue/desk.html", context)
    return RedirectResponse(f"/desk/queue?done={entry.id}", status_code=303)


# --- the doctor -------------------------------------------------------------------------------


async def _doctor_context(session: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    _require_role(viewer, Role.doctor)
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
        "config": {"role": "doctor", "queues": [data], "text": _staff_text()},
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
    _require_role(user, Role.doctor)
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
        await drop_refused_changes(session, exc)
        context = await _doctor_context(session, user)
        return render_refusal(
            request, exc, "queue/doctor.html", {**context, "told": None, "typed": meet_url}
        )
    return RedirectResponse(f"/doctor/queue?told={len(told)}", status_code=303)


# --- the public display board -----------------------------------------------------------------


@router.get("/board")
async def display_board(request: Request, session: Session, settings: SettingsDep) -> Response:
    """No sign-in: numbers and doctors' names only, for a screen in the waiting room."""
    rows = [row.model_dump(mode="json") for row in await queues.board(session)]
    url = arrival_url(settings)
    return render(
        request,
        "queue/board.html",
        {
            "rows": rows,
            "arrival_url": url,
            "qr": qr_svg(url, _("Scan to check in")),
            "config": {
                "rows": rows,
                "text": {
                    "waiting": _("Waiting: {count}"),
                    "paused": _("Paused"),
                    "away": _("Away"),
                    "stale": _("Updates are late: checking again…"),
                },
            },
        },
    )
