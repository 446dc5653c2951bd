"""The patient's home: the next appointment (reschedule, cancel after a confirmation, add to
a calendar), today's token and position, unread messages and the latest prescription.

Cancelling posts to the appointments page's own form (`/appointments/{id}/cancel`) and the
calendar file is the scheduling API's (`/api/appointments/{id}.ics`); rescheduling offers
the doctor's next free times here and asks `scheduling.reschedule`, as the API does.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import AwareDatetime, TypeAdapter, ValidationError

from clinicflow.core import clock
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.deps import Clinic, CsrfProtected, PageViewer, Session, SettingsDep
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.notifications import service as notifications
from clinicflow.queue import service as queues
from clinicflow.records import service as records
from clinicflow.routing import TransactionalRoute
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import AppointmentStatus, AppointmentView
from clinicflow.scheduling.service.announcements import topic as availability_topic
from clinicflow.web.home.page import HomeRequest, live
from clinicflow.web.templating import refusal_page

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

# How far ahead, and how many, free times the reschedule form offers.
RESCHEDULE_DAYS = 7
RESCHEDULE_CHOICES = 8
_moment: TypeAdapter[AwareDatetime] = TypeAdapter(AwareDatetime)


def notice(done: str | None) -> str | None:
    return _("Your appointment has a new time.") if done == "rescheduled" else None


async def _free_times(home: HomeRequest, appointment: AppointmentView) -> list[dict[str, str]]:
    """The doctor's next free times to move to (none when the appointment can no longer move)."""
    if appointment.status is not AppointmentStatus.booked:
        return []
    now = clock.now()
    _zone, free = await scheduling.free_slots(
        session=home.session,
        settings=home.settings,
        doctor_id=appointment.doctor_id,
        start=now,
        end=now + timedelta(days=RESCHEDULE_DAYS),
        viewer_id=home.viewer.id,
    )
    return [
        {
            "value": starts.isoformat(),
            "label": f"{home.day(starts)}, {home.time(starts)}",
        }
        for starts, _ends in free[:RESCHEDULE_CHOICES]
        if starts != appointment.starts_at
    ]


async def _next(home: HomeRequest) -> dict[str, Any] | None:
    appointment = await scheduling.next_appointment(session=home.session, actor=home.viewer)
    if appointment is None:
        return None
    doctor = await identity.names(home.session, [appointment.doctor_id])
    return {
        "id": appointment.id,
        "doctor_id": appointment.doctor_id,
        "doctor": doctor.get(appointment.doctor_id, ""),
        "day": home.day(appointment.starts_at),
        "times": f"{home.time(appointment.starts_at)}–{home.time(appointment.ends_at)}",
        "mode": appointment.mode.label,
        "status": appointment.status,
        "changeable": appointment.status is AppointmentStatus.booked,
        "free_times": await _free_times(home, appointment),
    }


async def context(home: HomeRequest) -> dict[str, Any]:
    session, viewer = home.session, home.viewer
    upcoming = await _next(home)
    places = await queues.my_places(session=session, actor=viewer)
    prescription = await records.last_prescription(
        session=session, actor=viewer, public_url=home.clinic.public_url
    )
    topics = [notifications.user_topic(viewer.id)]
    topics += [queues.topic(place.doctor_id, place.date) for place in places]
    if upcoming is not None:
        topics.append(availability_topic(upcoming["doctor_id"]))
    return {
        "next": upcoming,
        "places": places,
        "unread": await notifications.unread_count(session, viewer.id),
        "prescription": prescription,
        "prescribed_on": home.day(prescription.issued_at) if prescription else None,
        "cancellation_minutes": home.settings.cancellation_window_minutes,
        "zone": home.zone_label(),
        "live": live(topics),
    }


async def _page(home: HomeRequest) -> dict[str, Any]:
    return {**await context(home), "notice": None}


@router.post("/home/appointments/{appointment_id}/reschedule", dependencies=[CsrfProtected])
async def reschedule(
    request: Request,
    appointment_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    clinic: Clinic,
    user: PageViewer,
    starts_at: Annotated[str, Form(max_length=40)],
) -> Response:
    """Move the next appointment to one of the offered times; a refusal (taken meanwhile,
    too late to change) shows the home page again with its reason."""
    home = HomeRequest(
        request=request, session=session, settings=settings, clinic=clinic, viewer=user
    )
    try:
        try:
            new_start = _moment.validate_python(starts_at)
        except ValidationError as exc:
            raise AppError(
                ErrorCode.validation_error,
                _("Choose one of the times shown."),
                {"field": "starts_at"},
            ) from exc
        await scheduling.reschedule(
            session=session,
            settings=settings,
            actor=user,
            appointment_id=appointment_id,
            starts_at=new_start,
        )
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            f"home/{user.role.value}.html",
            lambda: _page(home),
        )
    return RedirectResponse("/home?done=rescheduled", status_code=303)
