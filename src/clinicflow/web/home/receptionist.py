"""The front desk's home: today's appointments across doctors with their statuses, and each
doctor's queue in numbers, live."""

from __future__ import annotations

from typing import Any

from clinicflow.identity import service as identity
from clinicflow.queue import service as queues
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import AppointmentStatus
from clinicflow.scheduling.service.announcements import topic as availability_topic
from clinicflow.web.home.page import HomeRequest, live


async def desk_figures(home: HomeRequest) -> tuple[list[Any], list[queues.QueueToday]]:
    """Every active doctor (by name) and their queue of today, in the same order."""
    doctors = await identity.search_doctors(home.session)
    today = await queues.queues_today(
        session=home.session, actor=home.viewer, doctor_ids=[d.id for d in doctors]
    )
    return doctors, today


async def context(home: HomeRequest) -> dict[str, Any]:
    session = home.session
    doctors, today = await desk_figures(home)
    appointments = await scheduling.appointments_today(
        session=session, actor=home.viewer, zone=home.clinic.zone
    )
    names = await identity.names(session, {a.patient_id for a in appointments})
    doctor_names = {d.id: d.name for d in doctors} | await identity.names(
        session, {a.doctor_id for a in appointments} - {d.id for d in doctors}
    )
    counts = {status: 0 for status in AppointmentStatus}
    for appointment in appointments:
        counts[appointment.status] += 1
    return {
        "queues": [
            {"doctor": doctor.name, "doctor_id": doctor.id, "queue": queue}
            for doctor, queue in zip(doctors, today, strict=True)
        ],
        "appointments": [
            {
                "time": home.time(a.starts_at),
                "patient": names.get(a.patient_id, ""),
                "doctor": doctor_names.get(a.doctor_id, ""),
                "mode": a.mode.label,
                "status": a.status,
            }
            for a in appointments
        ],
        "status_counts": [(status, n) for status, n in counts.items() if n],
        "zone": home.zone_label(),
        "live": live(
            [queue.topic for queue in today] + [availability_topic(d.id) for d in doctors]
        ),
    }
