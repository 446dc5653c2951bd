"""Which of a doctor's times are free, and whether one time can still be taken.

The pure arithmetic (the slots of a week) is `scheduling.slots`; this module adds what is
stored: booked appointments and other people's unexpired holds. The checks only give the
usual refusals a clear answer: the unique indexes over doctor and start decide, and
`insert_or_taken` turns a lost race on them into the same `slot_taken`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core import clock
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.scheduling import slots
from clinicflow.scheduling.models import Appointment, Availability, SlotHold
from clinicflow.scheduling.service.availability import get_availability, to_schedule
from clinicflow.scheduling.service.lifecycle import NOT_CANCELLED


async def _busy(
    session: AsyncSession,
    doctor_id: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    except_patient: uuid.UUID | None,
) -> list[slots.Slot]:
    """Booked appointments and other people's unexpired holds that touch [start, end)."""
    booked = await session.execute(
        select(Appointment.starts_at, Appointment.ends_at).where(
            Appointment.doctor_id == doctor_id,
            NOT_CANCELLED,
            Appointment.starts_at < end,
            Appointment.ends_at > start,
        )
    )
    holds = select(SlotHold.starts_at, SlotHold.ends_at).where(
        SlotHold.doctor_id == doctor_id,
        SlotHold.expires_at > clock.now(),
        SlotHold.starts_at < end,
        SlotHold.ends_at > start,
    )
    if except_patient is not None:
        holds = holds.where(SlotHold.patient_id != except_patient)
    held = await session.execute(holds)
    return [(row[0], row[1]) for row in [*booked.all(), *held.all()]]


async def free_slots(
    *,
    session: AsyncSession,
    settings: Settings,
    doctor_id: uuid.UUID,
    start: datetime,
    end: datetime,
    viewer_id: uuid.UUID | None = None,
) -> tuple[str, list[slots.Slot]]:
    """(the doctor's timezone, free slots in UTC) for a range of at most 31 days."""
    if end <= start:
        raise AppError(
            ErrorCode.validation_error,
            _("The end of the range must be after its start."),
            {"field": "to"},
        )
    if end - start > timedelta(days=settings.max_slot_range_days):
        raise AppError(
            ErrorCode.validation_error,
            _("Ask for at most {days} days at a time.").format(days=settings.max_slot_range_days),
            {"field": "to"},
        )
    row = await get_availability(session=session, doctor_id=doctor_id)
    schedule = to_schedule(row)
    busy = await _busy(session, doctor_id, start, end, except_patient=viewer_id)
    return row.timezone, slots.free_slots(schedule, start, end, busy=busy, now=clock.now())


def slot_end(row: Availability, starts_at: datetime) -> datetime | None:
    """The end of the slot starting at `starts_at`, if it is a future slot of the week."""
    schedule = to_schedule(row)
    if starts_at < clock.now() or not slots.is_slot_start(schedule, starts_at):
        return None
    return starts_at + timedelta(minutes=schedule.slot_minutes)


async def bookable_end(
    session: AsyncSession, doctor_id: uuid.UUID, starts_at: datetime
) -> datetime:
    """The end of the slot, or the refusal a client sees for a time it cannot have."""
    row = await get_availability(session=session, doctor_id=doctor_id)
    ends_at = slot_end(row, starts_at)
    if ends_at is None:
        raise AppError(
            ErrorCode.slot_unavailable,
            _("That time is not one of the doctor's free slots."),
            {"starts_at": starts_at.isoformat()},
        )
    return ends_at


async def is_booked(session: AsyncSession, doctor_id: uuid.UUID, starts_at: datetime) -> bool:
    found = await session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.doctor_id == doctor_id, Appointment.starts_at == starts_at, NOT_CANCELLED
        )
    )
    return bool(found)


def slot_taken() -> AppError:
    return AppError(ErrorCode.slot_taken, _("Someone else has just taken that time. Pick another."))


async def insert_or_taken(session: AsyncSession, row: object) -> None:
    """Insert through a savepoint, so a lost race on a unique index becomes `slot_taken`."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as exc:
        raise slot_taken() from exc
