"""The patient's home: the next appointment (reschedule, cancel after a confirmation, add to
a calendar), today's token and position, unread messages and the latest prescription.

Cancelling and rescheduling post to the appointments page's own forms
(`/appointments/{id}/cancel`, `/appointments/{id}/reschedule` with `back=/home`) and the
calendar file is the scheduling API's (`/api/appointments/{id}.ics`).
"""

from __future__ import annotations

from typing import Any

from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.notifications import service as notifications
from clinicflow.queue import service as queues
from clinicflow.records import service as records
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.pages import reschedule
from clinicflow.scheduling.schemas import AppointmentStatus, AppointmentView
from clinicflow.scheduling.service.announcements import topic as availability_topic
from clinicflow.web.home.page import HomeRequest, live


def notice(done: str | None) -> str | None:
    return _("Your appointment has a new time.") if done == reschedule.DONE else None


async def _free_times(home: HomeRequest, appointment: AppointmentView) -> list[reschedule.FreeTime]:
    """The doctor's next free times to move to, on the clinic's clock."""
    return await reschedule.free_times(
        session=home.session,
        settings=home.settings,
        viewer_id=home.viewer.id,
        doctor_id=appointment.doctor_id,
        starts_at=appointment.starts_at,
        status=appointment.status,
        label=lambda starts: f"{home.day(starts)}, {home.time(starts)}",
    )


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
