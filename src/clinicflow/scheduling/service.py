"""The rules of scheduling: weeks, free slots, holds and appointments.

Double booking is prevented by the database (a unique index over doctor and start for
live appointments, and one over doctor and start for holds); the checks here only give
the common refusals a clear answer before the index has to.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core import audit, clock, security
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.scheduling import access, ical, slots
from clinicflow.scheduling.models import (
    Appointment,
    AppointmentStatus,
    Availability,
    CalendarFeed,
    Mode,
    SlotHold,
)

LIVE = (AppointmentStatus.booked, AppointmentStatus.checked_in)
NOT_CANCELLED = Appointment.status != AppointmentStatus.cancelled


# --- availability ----------------------------------------------------------------------------


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
    return merged


# --- free slots ------------------------------------------------------------------------------


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


async def _bookable_end(
    session: AsyncSession, doctor_id: uuid.UUID, starts_at: datetime
) -> datetime:
    """The end of the slot starting at `starts_at`, if it is a future slot of the doctor's week."""
    row = await get_availability(session=session, doctor_id=doctor_id)
    schedule = to_schedule(row)
    if starts_at < clock.now() or not slots.is_slot_start(schedule, starts_at):
        raise AppError(
            ErrorCode.slot_unavailable,
            _("That time is not one of the doctor's free slots."),
            {"starts_at": starts_at.isoformat()},
        )
    return starts_at + timedelta(minutes=schedule.slot_minutes)


def _slot_taken() -> AppError:
    return AppError(ErrorCode.slot_taken, _("Someone else has just taken that time. Pick another."))


async def _insert_or_taken(session: AsyncSession, row: object) -> None:
    """Insert through a savepoint, so a lost race on a unique index becomes `slot_taken`."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as exc:
        raise _slot_taken() from exc


# --- holds -----------------------------------------------------------------------------------


async def _patient(session: AsyncSession, actor: Actor, patient_id: uuid.UUID | None) -> uuid.UUID:
    chosen = access.patient_for(actor, patient_id)
    if actor.role is not Role.patient:
        await identity.get_patient(session, chosen)
    return chosen


async def _booked(session: AsyncSession, doctor_id: uuid.UUID, starts_at: datetime) -> bool:
    found = await session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.doctor_id == doctor_id, Appointment.starts_at == starts_at, NOT_CANCELLED
        )
    )
    return bool(found)


async def hold_slot(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    doctor_id: uuid.UUID,
    starts_at: datetime,
    patient_id: uuid.UUID | None = None,
) -> SlotHold:
    """Keep a free slot for one patient for a few minutes; their earlier hold with this doctor ends."""
    patient = await _patient(session, actor, patient_id)
    ends_at = await _bookable_end(session, doctor_id, starts_at)
    if await _booked(session, doctor_id, starts_at):
        raise _slot_taken()
    now = clock.now()
    await session.execute(
        delete(SlotHold).where(
            or_(
                (SlotHold.doctor_id == doctor_id)
                & (SlotHold.starts_at == starts_at)
                & (SlotHold.expires_at <= now),
                (SlotHold.doctor_id == doctor_id) & (SlotHold.patient_id == patient),
            )
        )
    )
    hold = SlotHold(
        id=uuid.uuid4(),
        doctor_id=doctor_id,
        patient_id=patient,
        starts_at=starts_at,
        ends_at=ends_at,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.hold_minutes),
    )
    await _insert_or_taken(session, hold)
    return hold


async def release_hold(*, session: AsyncSession, actor: Actor, hold_id: uuid.UUID) -> None:
    hold = await session.get(SlotHold, hold_id)
    if hold is None or not (hold.patient_id == actor.id or access.is_staff(actor)):
        raise AppError(ErrorCode.not_found, _("Not found."))
    await session.delete(hold)
    await session.flush()


# --- appointments ----------------------------------------------------------------------------


async def _claim_slot(
    session: AsyncSession, doctor_id: uuid.UUID, starts_at: datetime, patient: uuid.UUID
) -> None:
    """Refuse a slot someone else holds; end any hold on it that is the patient's or expired."""
    hold = await session.scalar(
        select(SlotHold).where(SlotHold.doctor_id == doctor_id, SlotHold.starts_at == starts_at)
    )
    if hold is None:
        return
    if hold.expires_at > clock.now() and hold.patient_id != patient:
        raise _slot_taken()
    await session.delete(hold)
    await session.flush()


async def book(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    doctor_id: uuid.UUID,
    starts_at: datetime,
    mode: Mode,
    reason: str = "",
    patient_id: uuid.UUID | None = None,
    client_ip: str | None = None,
) -> Appointment:
    patient = await _patient(session, actor, patient_id)
    ends_at = await _bookable_end(session, doctor_id, starts_at)
    future = await session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.patient_id == patient,
            Appointment.status.in_(LIVE),
            Appointment.starts_at > clock.now(),
        )
    )
    if (future or 0) >= settings.max_future_appointments:
        raise AppError(
            ErrorCode.appointment_limit,
            _("A patient may hold at most {count} upcoming appointments.").format(
                count=settings.max_future_appointments
            ),
        )
    if await _booked(session, doctor_id, starts_at):
        raise _slot_taken()
    await _claim_slot(session, doctor_id, starts_at, patient)
    appointment = Appointment(
        id=uuid.uuid4(),
        doctor_id=doctor_id,
        patient_id=patient,
        booked_by_id=actor.id,
        starts_at=starts_at,
        ends_at=ends_at,
        mode=mode,
        reason=reason,
        status=AppointmentStatus.booked,
    )
    await _insert_or_taken(session, appointment)
    await audit.record(
        session,
        action="appointment.book",
        resource_type="appointment",
        resource_id=appointment.id,
        actor=actor,
        ip=client_ip,
        details={"doctor_id": str(doctor_id), "starts_at": starts_at.isoformat()},
    )
    return appointment


def _check_change_window(settings: Settings, actor: Actor, appointment: Appointment) -> None:
    """Patients may change an appointment until the window before its start; staff always."""
    if appointment.status not in LIVE:
        raise AppError(
            ErrorCode.invalid_transition,
            _("This appointment can no longer be changed."),
            {"status": appointment.status.value},
        )
    window = timedelta(minutes=settings.cancellation_window_minutes)
    if actor.role is Role.patient and appointment.starts_at - clock.now() < window:
        raise AppError(
            ErrorCode.too_late_to_change,
            _("Appointments can be changed until {minutes} minutes before they start.").format(
                minutes=settings.cancellation_window_minutes
            ),
        )


async def cancel(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    appointment_id: uuid.UUID,
    client_ip: str | None = None,
) -> Appointment:
    appointment = await access.get_appointment_for(session, actor, appointment_id)
    _check_change_window(settings, actor, appointment)
    appointment.status = AppointmentStatus.cancelled
    appointment.cancelled_at = clock.now()
    await session.flush()
    await audit.record(
        session,
        action="appointment.cancel",
        resource_type="appointment",
        resource_id=appointment.id,
        actor=actor,
        ip=client_ip,
    )
    return appointment


async def reschedule(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    appointment_id: uuid.UUID,
    starts_at: datetime,
    client_ip: str | None = None,
) -> Appointment:
    appointment = await access.get_appointment_for(session, actor, appointment_id)
    _check_change_window(settings, actor, appointment)
    ends_at = await _bookable_end(session, appointment.doctor_id, starts_at)
    if await _booked(session, appointment.doctor_id, starts_at):
        raise _slot_taken()
    await _claim_slot(session, appointment.doctor_id, starts_at, appointment.patient_id)
    previous = appointment.starts_at
    try:
        async with session.begin_nested():
            appointment.starts_at, appointment.ends_at = starts_at, ends_at
            await session.flush()
    except IntegrityError as exc:
        raise _slot_taken() from exc
    await audit.record(
        session,
        action="appointment.reschedule",
        resource_type="appointment",
        resource_id=appointment.id,
        actor=actor,
        ip=client_ip,
        details={"from": previous.isoformat(), "to": starts_at.isoformat()},
    )
    return appointment


def _encode_cursor(appointment: Appointment) -> str:
    raw = f"{appointment.starts_at.isoformat()}|{appointment.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        starts, _sep, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(starts), uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AppError(
            ErrorCode.validation_error, _("The page cursor is not valid."), {"field": "cursor"}
        ) from exc


async def list_appointments(
    *,
    session: AsyncSession,
    actor: Actor,
    status: AppointmentStatus | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    doctor_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Appointment], str | None]:
    """Appointments the actor may see, by start time, a page at a time (keyset cursor)."""
    query = select(Appointment)
    if actor.role is Role.patient:
        query = query.where(Appointment.patient_id == actor.id)
    elif actor.role is Role.doctor:
        query = query.where(Appointment.doctor_id == actor.id)
    if doctor_id is not None:
        query = query.where(Appointment.doctor_id == doctor_id)
    if status is not None:
        query = query.where(Appointment.status == status)
    if start is not None:
        query = query.where(Appointment.starts_at >= start)
    if end is not None:
        query = query.where(Appointment.starts_at < end)
    if cursor:
        after_start, after_id = _decode_cursor(cursor)
        query = query.where(tuple_(Appointment.starts_at, Appointment.id) > (after_start, after_id))
    rows = list(
        await session.scalars(
            query.order_by(Appointment.starts_at, Appointment.id).limit(limit + 1)
        )
    )
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def get_appointment(
    *, session: AsyncSession, actor: Actor, appointment_id: uuid.UUID
) -> Appointment:
    return await access.get_appointment_for(session, actor, appointment_id)


# --- calendars -------------------------------------------------------------------------------

FEED_HISTORY = timedelta(days=30)


async def _calendar_entries(
    session: AsyncSession, appointments: Sequence[Appointment], viewer_id: uuid.UUID
) -> list[ical.CalendarEntry]:
    """Each entry is titled with the other person: the doctor for a patient, and so on."""
    people = await identity.names(
        session, {a.doctor_id for a in appointments} | {a.patient_id for a in appointments}
    )

    def title(appointment: Appointment) -> str:
        if viewer_id == appointment.patient_id:
            return f"clinicflow: {people.get(appointment.doctor_id, '')}"
        if viewer_id == appointment.doctor_id:
            return f"clinicflow: {people.get(appointment.patient_id, '')}"
        return (
            f"clinicflow: {people.get(appointment.doctor_id, '')}"
            f" – {people.get(appointment.patient_id, '')}"
        )

    return [
        ical.CalendarEntry(
            uid=f"{a.id}@clinicflow",
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            title=title(a),
            mode=a.mode,
            status=a.status,
            updated_at=a.updated_at,
        )
        for a in appointments
    ]


async def appointment_ics(
    *, session: AsyncSession, actor: Actor, appointment_id: uuid.UUID
) -> bytes:
    appointment = await access.get_appointment_for(session, actor, appointment_id)
    entries = await _calendar_entries(session, [appointment], actor.id)
    return ical.render(entries, name="clinicflow")


async def create_calendar_feed(*, session: AsyncSession, actor: Actor) -> str:
    """A new private feed token for the actor; any earlier feed URL stops working."""
    await session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == actor.id))
    token = security.new_opaque_token()
    session.add(
        CalendarFeed(
            user_id=actor.id, token_hash=security.hash_token(token), created_at=clock.now()
        )
    )
    await session.flush()
    return token


async def revoke_calendar_feed(*, session: AsyncSession, actor: Actor) -> None:
    await session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == actor.id))


async def calendar_feed(*, session: AsyncSession, token: str) -> bytes:
    """The feed behind a secret URL: the owner's appointments from a month ago onwards."""
    feed = await session.scalar(
        select(CalendarFeed).where(CalendarFeed.token_hash == security.hash_token(token))
    )
    if feed is None or not await identity.is_active(session, feed.user_id):
        raise AppError(ErrorCode.not_found, _("Not found."))
    owner = feed.user_id
    appointments = list(
        await session.scalars(
            select(Appointment)
            .where(
                or_(Appointment.patient_id == owner, Appointment.doctor_id == owner),
                Appointment.starts_at >= clock.now() - FEED_HISTORY,
            )
            .order_by(Appointment.starts_at)
        )
    )
    entries = await _calendar_entries(session, appointments, owner)
    return ical.render(entries, name="clinicflow")
