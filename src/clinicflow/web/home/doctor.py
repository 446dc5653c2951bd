"""The doctor's home: today's booked visits, who waits and who is ready online, the
consultation requests to answer, and today's visits that still have no note."""

from __future__ import annotations

from typing import Any

from clinicflow.consultations import service as consultations
from clinicflow.identity import service as identity
from clinicflow.notifications import service as notifications
from clinicflow.queue import service as queues
from clinicflow.records import service as records
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import AppointmentStatus
from clinicflow.scheduling.service.announcements import topic as availability_topic
from clinicflow.scheduling.service.today import day_bounds
from clinicflow.web.home.page import HomeRequest, live


async def context(home: HomeRequest) -> dict[str, Any]:
    session, viewer = home.session, home.viewer
    booked = [
        appointment
        for appointment in await scheduling.appointments_today(
            session=session, actor=viewer, zone=home.clinic.zone
        )
        if appointment.status is not AppointmentStatus.cancelled
    ]
    names = await identity.names(session, {a.patient_id for a in booked})
    (queue,) = await queues.queues_today(session=session, actor=viewer, doctor_ids=[viewer.id])
    pending, requests = await consultations.pending_requests(session=session, actor=viewer)
    start, end = day_bounds(home.clinic.zone)
    unnoted = await records.visits_without_note(session=session, actor=viewer, start=start, end=end)
    return {
        "appointments": [
            {
                "time": home.time(a.starts_at),
                "patient": names.get(a.patient_id, ""),
                "mode": a.mode.label,
                "status": a.status,
            }
            for a in booked
        ],
        "queue": queue,
        "pending": pending,
        "requests": [
            {
                "id": r.id,
                "patient": r.patient_name,
                "type": r.type.label,
                "at": home.time(r.created_at),
            }
            for r in requests
        ],
        "unnoted": [
            {
                "id": v.consultation_id,
                "patient": v.patient_name,
                "type": v.type.label,
                "at": home.time(v.created_at),
            }
            for v in unnoted
        ],
        "zone": home.zone_label(),
        "live": live(
            [
                queue.topic,
                notifications.user_topic(viewer.id),
                availability_topic(viewer.id),
            ]
        ),
    }
