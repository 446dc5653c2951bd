"""What the home pages read of appointments: a day's list as the actor may see it (a doctor
their own, the front desk every doctor's), and a patient's next appointment."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.scheduling import access
from clinicflow.scheduling.models import Appointment
from clinicflow.scheduling.schemas import AppointmentView
from clinicflow.scheduling.service.lifecycle import LIVE

# A day has far fewer appointments than this; the bound keeps a home page cheap regardless.
DAY_LIMIT = 500


def day_bounds(zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Today in `zone` (the clinic's) as a UTC-comparable [start, end), across DST too."""
    today = clock.now().astimezone(zone).date()
    start = datetime.combine(today, time(), tzinfo=zone)
    end = datetime.combine(today + timedelta(days=1), time(), tzinfo=zone)
    return start, end


async def appointments_today(
    *, session: AsyncSession, actor: Actor, zone: ZoneInfo
) -> list[AppointmentView]:
    """Today's appointments (the clinic's day), cancelled ones included so their status
    shows, earliest first: a patient's or doctor's own, every doctor's for the front desk
    (`access.visible_appointments`)."""
    start, end = day_bounds(zone)
    query = access.visible_appointments(actor, select(Appointment)).where(
        Appointment.starts_at >= start, Appointment.starts_at < end
    )
    rows = await session.scalars(
        query.order_by(Appointment.starts_at, Appointment.id).limit(DAY_LIMIT)
    )
    return [AppointmentView.model_validate(row) for row in rows]


async def next_appointment(*, session: AsyncSession, actor: Actor) -> AppointmentView | None:
    """The actor's own next appointment still to come (booked or checked in, not yet over),
    or None."""
    query = access.visible_appointments(actor, select(Appointment)).where(
        Appointment.patient_id == actor.id,
        Appointment.status.in_(LIVE),
        Appointment.ends_at > clock.now(),
    )
    row = await session.scalar(query.order_by(Appointment.starts_at, Appointment.id).limit(1))
    return AppointmentView.model_validate(row) if row is not None else None
