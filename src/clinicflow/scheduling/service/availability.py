"""A doctor's week: reading it (an empty week in the doctor's zone until they set one) and
replacing it, checked by the slot arithmetic before it is stored."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.scheduling import access, slots
from clinicflow.scheduling.models import Availability
from clinicflow.scheduling.service.announcements import announce


def _clock_time(value: str) -> time:
    return time.fromisoformat(value)


def _intervals(raw: Sequence[Sequence[str]]) -> list[slots.LocalInterval]:
    return [(_clock_time(start), _clock_time(end)) for start, end in raw]


def to_schedule(row: Availability) -> slots.Schedule:
    return slots.Schedule(
        timezone=row.timezone,
        slot_minutes=row.slot_minutes,
        weekly={day: _intervals(raw) for day, raw in row.weekly.items()},
        exceptions={
            date.fromisoformat(item["date"]): _intervals(item["intervals"])
            for item in row.exceptions
        },
    )


async def get_availability(*, session: AsyncSession, doctor_id: uuid.UUID) -> Availability:
    """The doctor's week; a doctor who never set one has an empty week in their own zone."""
    doctor = await identity.get_doctor(session, doctor_id)
    row = await session.get(Availability, doctor_id)
    if row is not None:
        return row
    assert doctor.doctor is not None  # get_doctor guarantees the profile
    return Availability(
        doctor_id=doctor_id,
        timezone=doctor.doctor.timezone,
        slot_minutes=doctor.doctor.consultation_minutes,
        weekly={},
        exceptions=[],
        updated_at=clock.now(),
    )


async def doctor_week(session: AsyncSession, doctor_id: uuid.UUID) -> Availability | None:
    """The doctor's week, or None for a doctor who no longer works here (no error: a
    cancellation by staff must still go through)."""
    if not await identity.is_active(session, doctor_id):
        return None
    return await get_availability(session=session, doctor_id=doctor_id)


async def set_availability(
    *,
    session: AsyncSession,
    actor: Actor,
    doctor_id: uuid.UUID,
    timezone: str,
    slot_minutes: int | None,
    weekly: dict[str, list[tuple[str, str]]],
    exceptions: list[dict[str, Any]],
) -> Availability:
    access.require_schedule_editor(actor, doctor_id)
    doctor = await identity.get_doctor(session, doctor_id)
    assert doctor.doctor is not None
    row = Availability(
        doctor_id=doctor_id,
        timezone=timezone,
        slot_minutes=slot_minutes or doctor.doctor.consultation_minutes,
        weekly={day: [list(pair) for pair in pairs] for day, pairs in weekly.items()},
        exceptions=[
            {"date": item["date"].isoformat(), "intervals": [list(p) for p in item["intervals"]]}
            for item in exceptions
        ],
        updated_at=clock.now(),
    )
    try:
        slots.validate(to_schedule(row))
    except slots.ScheduleError as exc:
        raise AppError(ErrorCode.validation_error, str(exc), {"field": exc.field}) from exc
    dates = [item["date"] for item in row.exceptions]
    if len(dates) != len(set(dates)):
        raise AppError(
            ErrorCode.validation_error,
            _("Each date may have one exception."),
            {"field": "exceptions"},
        )
    merged = await session.merge(row)
    await session.flush()
    announce(session, doctor_id)
    return merged
