"""Read-only figures about appointments for the analytics domain, aggregated in SQL.

Per doctor over one window of instants: appointments booked in it (by when the booking
was made) and appointments due in it (by their start), with how those ended. A late
cancellation is one made less than the clinic's cut-off before the start.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.sql_time import minutes_between
from clinicflow.scheduling.models import Appointment
from clinicflow.scheduling.schemas import AppointmentStatus


@dataclass
class AppointmentFacts:
    doctor_id: uuid.UUID
    booked: int = 0
    due: int = 0
    cancelled: int = 0
    late_cancelled: int = 0


async def appointment_facts(
    *,
    session: AsyncSession,
    start: datetime,
    end: datetime,
    late_within_minutes: int,
    doctor_id: uuid.UUID | None = None,
) -> list[AppointmentFacts]:
    """Per doctor: bookings made in `[start, end)` and appointments due in it."""
    dialect = session.get_bind().dialect.name
    found: dict[uuid.UUID, AppointmentFacts] = {}

    def of(doctor: uuid.UUID) -> AppointmentFacts:
        return found.setdefault(doctor, AppointmentFacts(doctor))

    booked = select(Appointment.doctor_id, func.count()).where(
        Appointment.created_at >= start, Appointment.created_at < end
    )
    cancelled = Appointment.status == AppointmentStatus.cancelled
    notice = minutes_between(Appointment.cancelled_at, Appointment.starts_at, dialect)
    due = select(
        Appointment.doctor_id,
        func.count(),
        func.count().filter(cancelled),
        func.count().filter(
            cancelled, Appointment.cancelled_at.is_not(None), notice < late_within_minutes
        ),
    ).where(Appointment.starts_at >= start, Appointment.starts_at < end)
    if doctor_id is not None:
        booked = booked.where(Appointment.doctor_id == doctor_id)
        due = due.where(Appointment.doctor_id == doctor_id)
    for doctor, count in await session.execute(booked.group_by(Appointment.doctor_id)):
        of(doctor).booked = int(count)
    for doctor, total, gone, late in await session.execute(due.group_by(Appointment.doctor_id)):
        facts = of(doctor)
        facts.due, facts.cancelled, facts.late_cancelled = total, gone, late
    return sorted(found.values(), key=lambda f: str(f.doctor_id))
