"""Moving an appointment to another of its doctor's free times, from the patient's home or the
appointments page (whose route posts here): the next free times of the coming week are
offered, and `scheduling.reschedule` decides (a time taken meanwhile, too late to change)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import AwareDatetime, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import AppointmentStatus

# How far ahead, and how many, free times the form offers; later weeks are on the booking page.
RESCHEDULE_DAYS = 7
RESCHEDULE_CHOICES = 8
DONE = "rescheduled"
_moment: TypeAdapter[AwareDatetime] = TypeAdapter(AwareDatetime)


@dataclass(frozen=True)
class FreeTime:
    value: str  # ISO, posted back
    label: str


async def free_times(
    *,
    session: AsyncSession,
    settings: Settings,
    viewer_id: uuid.UUID,
    doctor_id: uuid.UUID,
    starts_at: datetime,
    status: AppointmentStatus,
    label: Callable[[datetime], str],
) -> list[FreeTime]:
    """The doctor's next free times to move to; none once the appointment can no longer move."""
    if status is not AppointmentStatus.booked:
        return []
    now = clock.now()
    _zone, free = await scheduling.free_slots(
        session=session,
        settings=settings,
        doctor_id=doctor_id,
        start=now,
        end=now + timedelta(days=RESCHEDULE_DAYS),
        viewer_id=viewer_id,
    )
    return [
        FreeTime(value=starts.isoformat(), label=label(starts))
        for starts, _ends in free[:RESCHEDULE_CHOICES]
        if starts != starts_at
    ]


async def move(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    appointment_id: uuid.UUID,
    starts_at: str,
) -> None:
    """Move to the time the form posted back; a time that is not one is a 422 on the field."""
    try:
        new_start = _moment.validate_python(starts_at)
    except ValidationError as exc:
        raise AppError(
            ErrorCode.validation_error, _("Choose one of the times shown."), {"field": "starts_at"}
        ) from exc
    await scheduling.reschedule(
        session=session,
        settings=settings,
        actor=actor,
        appointment_id=appointment_id,
        starts_at=new_start,
    )
