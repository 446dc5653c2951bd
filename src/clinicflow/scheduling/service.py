"""The rules of scheduling: weeks, free slots, holds, appointments and the waitlist.

Double booking is prevented by the database (a unique index over doctor and start for
live appointments, and one over doctor and start for holds); the checks here only give
the common refusals a clear answer before the index has to. A waitlist offer is an
ordinary hold, so the same index keeps a freed slot from being offered twice.

Every change that takes or frees a slot, or rewrites a doctor's week, is announced on the
doctor's `availability:<doctor_id>` topic once it commits (`events.announce`). A hold that
simply runs out is not: no transaction ends it, so pages show it free on their next refresh.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from babel.dates import format_date
from sqlalchemy import delete, exists, func, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import i18n
from clinicflow.config import Settings
from clinicflow.core import audit, clock, cursors, security
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.notifications import service as notifications
from clinicflow.notifications.service import Kind
from clinicflow.scheduling import access, events, ical, slots
from clinicflow.scheduling.models import (
    Appointment,
    AppointmentStatus,
    Availability,
    CalendarFeed,
    Mode,
    OfferStatus,
    SlotHold,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)

log = structlog.get_logger(__name__)

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
    events.announce(session, doctor_id)
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


def _slot_end(row: Availability, starts_at: datetime) -> datetime | None:
    """The end of the slot starting at `starts_at`, if it is a future slot of the week."""
    schedule = to_schedule(row)
    if starts_at < clock.now() or not slots.is_slot_start(schedule, starts_at):
        return None
    return starts_at + timedelta(minutes=schedule.slot_minutes)


async def _bookable_end(
    session: AsyncSession, doctor_id: uuid.UUID, starts_at: datetime
) -> datetime:
    """The end of the slot, or the refusal a client sees for a time it cannot have."""
    row = await get_availability(session=session, doctor_id=doctor_id)
    ends_at = _slot_end(row, starts_at)
    if ends_at is None:
        raise AppError(
            ErrorCode.slot_unavailable,
            _("That time is not one of the doctor's free slots."),
            {"starts_at": starts_at.isoformat()},
        )
    return ends_at


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
    ended = await session.execute(
        delete(SlotHold)
        .where(
            or_(
                (SlotHold.doctor_id == doctor_id)
                & (SlotHold.starts_at == starts_at)
                & (SlotHold.expires_at <= now),
                (SlotHold.doctor_id == doctor_id) & (SlotHold.patient_id == patient),
            )
        )
        .returning(SlotHold.starts_at, SlotHold.ends_at, SlotHold.expires_at)
    )
    # The patient's earlier hold on another of this doctor's times frees that time; an
    # expired hold had already stopped keeping its slot.
    freed = [(a, b) for a, b, expires in ended.all() if expires > now and a != starts_at]
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
    for slot in freed:
        events.announce(session, doctor_id, slot, free=True)
    events.announce(session, doctor_id, (starts_at, ends_at), free=False)
    return hold


async def release_hold(
    *, session: AsyncSession, settings: Settings, actor: Actor, hold_id: uuid.UUID
) -> None:
    """End a hold early; a waitlist offer released this way passes on to the next patient."""
    hold = await session.get(SlotHold, hold_id)
    if hold is None or not (hold.patient_id == actor.id or access.is_staff(actor)):
        raise AppError(ErrorCode.not_found, _("Not found."))
    # The offer row before the hold row: the order the sweep takes them in, so the two
    # never wait for each other on PostgreSQL.
    passed = await _close_offers(session, WaitlistOffer.hold_id == hold.id, OfferStatus.lapsed)
    doctor_id, slot = hold.doctor_id, (hold.starts_at, hold.ends_at)
    await session.delete(hold)
    await session.flush()
    events.announce(session, doctor_id, slot, free=True)
    await _offer_again(session, settings, passed)


async def get_hold(*, session: AsyncSession, actor: Actor, hold_id: uuid.UUID) -> SlotHold:
    """A hold that still keeps its slot, for the patient it keeps it for (or staff)."""
    return await access.get_hold_for(session, actor, hold_id)


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


async def _upcoming_count(session: AsyncSession, patient_id: uuid.UUID) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status.in_(LIVE),
            Appointment.starts_at > clock.now(),
        )
    )
    return found or 0


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
    if await _upcoming_count(session, patient) >= settings.max_future_appointments:
        raise AppError(
            ErrorCode.appointment_limit,
            _("A patient may hold at most {count} upcoming appointments.").format(
                count=settings.max_future_appointments
            ),
        )
    if await _booked(session, doctor_id, starts_at):
        raise _slot_taken()
    await _take_offer(session, settings, doctor_id, starts_at, patient)
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
    events.announce(session, doctor_id, (starts_at, ends_at), free=False)
    await notifications.about_appointment(
        session, kind=Kind.booking_confirmed, appointment=appointment
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
    await notifications.about_appointment(
        session, kind=Kind.booking_cancelled, appointment=appointment
    )
    events.announce(
        session, appointment.doctor_id, (appointment.starts_at, appointment.ends_at), free=True
    )
    await offer_freed_slot(
        session=session,
        settings=settings,
        doctor_id=appointment.doctor_id,
        starts_at=appointment.starts_at,
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
    await _take_offer(session, settings, appointment.doctor_id, starts_at, appointment.patient_id)
    await _claim_slot(session, appointment.doctor_id, starts_at, appointment.patient_id)
    previous, previous_end = appointment.starts_at, appointment.ends_at
    try:
        async with session.begin_nested():
            appointment.starts_at, appointment.ends_at = starts_at, ends_at
            await session.flush()
    except IntegrityError as exc:
        raise _slot_taken() from exc
    events.announce(session, appointment.doctor_id, (starts_at, ends_at), free=False)
    events.announce(session, appointment.doctor_id, (previous, previous_end), free=True)
    await audit.record(
        session,
        action="appointment.reschedule",
        resource_type="appointment",
        resource_id=appointment.id,
        actor=actor,
        ip=client_ip,
        details={"from": previous.isoformat(), "to": starts_at.isoformat()},
    )
    await notifications.about_appointment(session, kind=Kind.booking_moved, appointment=appointment)
    await offer_freed_slot(
        session=session, settings=settings, doctor_id=appointment.doctor_id, starts_at=previous
    )
    return appointment


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
        after_start, after_id = cursors.decode(cursor)
        query = query.where(tuple_(Appointment.starts_at, Appointment.id) > (after_start, after_id))
    rows = list(
        await session.scalars(
            query.order_by(Appointment.starts_at, Appointment.id).limit(limit + 1)
        )
    )
    next_cursor = (
        cursors.encode(rows[limit - 1].starts_at, rows[limit - 1].id) if len(rows) > limit else None
    )
    return rows[:limit], next_cursor


async def booked_starting_between(
    *, session: AsyncSession, start: datetime, end: datetime
) -> list[Appointment]:
    """Booked appointments starting in (start, end]: what a reminder scheduler looks at."""
    rows = await session.scalars(
        select(Appointment)
        .where(
            Appointment.status == AppointmentStatus.booked,
            Appointment.starts_at > start,
            Appointment.starts_at <= end,
        )
        .order_by(Appointment.starts_at)
    )
    return list(rows)


async def get_appointment(
    *, session: AsyncSession, actor: Actor, appointment_id: uuid.UUID
) -> Appointment:
    return await access.get_appointment_for(session, actor, appointment_id)


# --- waitlist --------------------------------------------------------------------------------
#
# A freed slot goes to the first waiting patient who can take it, as an ordinary hold that
# lasts `waitlist_offer_minutes`. Each offer is a row, so an entry is never offered the same
# slot twice, and an offer that ends unbooked (it lapsed, was released, or its patient left)
# hands the slot to the next patient in the same transaction that ends it.


@dataclass(frozen=True)
class Waiting:
    """A patient's place on a waitlist, and the slot held for them while an offer lasts."""

    entry: WaitlistEntry
    held: SlotHold | None


def _local_today(timezone: str) -> date:
    return clock.now().astimezone(ZoneInfo(timezone)).date()


async def join_waitlist(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    doctor_id: uuid.UUID,
    first_day: date,
    last_day: date,
    client_ip: str | None = None,
) -> WaitlistEntry:
    """Wait for a freed time with a doctor between two of the doctor's days (inclusive)."""
    access.require_patient(actor)
    availability = await get_availability(session=session, doctor_id=doctor_id)
    today = _local_today(availability.timezone)
    if first_day < today:
        raise AppError(
            ErrorCode.validation_error,
            _("The first day cannot be in the past."),
            {"field": "from"},
        )
    if last_day < first_day:
        raise AppError(
            ErrorCode.validation_error,
            _("The last day must not be before the first."),
            {"field": "to"},
        )
    if (last_day - first_day).days + 1 > settings.max_slot_range_days:
        raise AppError(
            ErrorCode.validation_error,
            _("Wait for at most {days} days at a time.").format(days=settings.max_slot_range_days),
            {"field": "to"},
        )
    now = clock.now()
    # An entry whose days are all past waits for nothing; it must not block a new one.
    await session.execute(
        update(WaitlistEntry)
        .where(
            WaitlistEntry.patient_id == actor.id,
            WaitlistEntry.doctor_id == doctor_id,
            WaitlistEntry.status == WaitlistStatus.active,
            WaitlistEntry.last_day < today,
        )
        .values(status=WaitlistStatus.expired, ended_at=now)
    )
    entry = WaitlistEntry(
        id=uuid.uuid4(),
        patient_id=actor.id,
        doctor_id=doctor_id,
        first_day=first_day,
        last_day=last_day,
        status=WaitlistStatus.active,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(entry)
            await session.flush()
    except IntegrityError as exc:  # the unique index over the patient's active entries
        raise AppError(
            ErrorCode.invalid_transition,
            _("You are already on this doctor's waitlist. Leave it first to change the days."),
            {"field": "doctor_id"},
        ) from exc
    await audit.record(
        session,
        action="waitlist.join",
        resource_type="waitlist_entry",
        resource_id=entry.id,
        actor=actor,
        ip=client_ip,
        details={
            "doctor_id": str(doctor_id),
            "from": first_day.isoformat(),
            "to": last_day.isoformat(),
        },
    )
    return entry


async def my_waitlist(*, session: AsyncSession, actor: Actor) -> list[Waiting]:
    """The actor's active entries whose days are not all past, first joined first."""
    entries = list(
        await session.scalars(
            select(WaitlistEntry)
            .where(
                WaitlistEntry.patient_id == actor.id,
                WaitlistEntry.status == WaitlistStatus.active,
            )
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        )
    )
    zones: dict[uuid.UUID, str] = {}
    for doctor_id in {entry.doctor_id for entry in entries}:
        week = await _doctor_week(session, doctor_id)
        zones[doctor_id] = week.timezone if week is not None else "UTC"
    current = [e for e in entries if e.last_day >= _local_today(zones[e.doctor_id])]
    held = await session.execute(
        select(WaitlistOffer.entry_id, SlotHold)
        .join(SlotHold, SlotHold.id == WaitlistOffer.hold_id)
        .where(
            WaitlistOffer.entry_id.in_([entry.id for entry in current]),
            WaitlistOffer.status == OfferStatus.open,
            SlotHold.expires_at > clock.now(),
        )
    )
    holds = {entry_id: hold for entry_id, hold in held}
    return [Waiting(entry, holds.get(entry.id)) for entry in current]


async def leave_waitlist(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    entry_id: uuid.UUID,
    client_ip: str | None = None,
) -> None:
    """Stop waiting; a slot held for the patient by an offer goes to the next one."""
    entry = await access.get_waitlist_entry_for(session, actor, entry_id)
    if not await _end_entry(session, settings, entry.id, WaitlistStatus.left):
        raise AppError(
            ErrorCode.invalid_transition,
            _("This waitlist place has already ended."),
            {"status": entry.status.value},
        )
    await audit.record(
        session,
        action="waitlist.leave",
        resource_type="waitlist_entry",
        resource_id=entry.id,
        actor=actor,
        ip=client_ip,
    )


async def offer_freed_slot(
    *, session: AsyncSession, settings: Settings, doctor_id: uuid.UUID, starts_at: datetime
) -> WaitlistOffer | None:
    """Hold a just-freed slot for the first waiting patient who can take it, and tell them.

    Runs in the transaction that frees the slot, so the offer commits with the change or not
    at all. Nobody is offered a slot that is past, no longer in the doctor's week, booked,
    or held. A patient who already holds a slot with this doctor, or who has the most
    upcoming appointments allowed, is passed over for this slot (they keep their place for
    the next one), because the offer would break the one-hold-per-doctor rule or could
    not be booked. A transaction that loses the race for the slot's hold (another one held
    it first, on PostgreSQL) offers nothing and goes on: the slot is no longer free.
    """
    availability = await _doctor_week(session, doctor_id)
    if availability is None:
        return None
    timezone = availability.timezone
    ends_at = _slot_end(availability, starts_at)
    now = clock.now()
    if ends_at is None or starts_at <= now or await _booked(session, doctor_id, starts_at):
        return None
    held = await session.scalar(
        select(func.count())
        .select_from(SlotHold)
        .where(
            SlotHold.doctor_id == doctor_id,
            SlotHold.starts_at == starts_at,
            SlotHold.expires_at > now,
        )
    )
    if held:
        return None
    day = starts_at.astimezone(ZoneInfo(timezone)).date()
    waiting = await session.scalars(
        select(WaitlistEntry.id)
        .where(
            WaitlistEntry.doctor_id == doctor_id,
            WaitlistEntry.status == WaitlistStatus.active,
            WaitlistEntry.first_day <= day,
            WaitlistEntry.last_day >= day,
            ~exists().where(
                WaitlistOffer.entry_id == WaitlistEntry.id, WaitlistOffer.starts_at == starts_at
            ),
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    )
    for entry_id in list(waiting):
        # Locked while it is considered, so two transactions offering two slots at once
        # cannot give one patient both; a row another transaction holds is passed over.
        entry = await session.scalar(
            select(WaitlistEntry)
            .where(WaitlistEntry.id == entry_id, WaitlistEntry.status == WaitlistStatus.active)
            .with_for_update(skip_locked=True)
        )
        if entry is not None and await _can_take_offer(session, settings, entry, now):
            return await _make_offer(session, settings, entry, starts_at, ends_at, timezone)
    return None


async def pass_on_lapsed_offers(*, session: AsyncSession, settings: Settings) -> int:
    """Close the offers whose hold ran out unbooked, and offer each slot to the next patient.

    The offers are claimed with one `UPDATE … RETURNING`: when two sweeps run at once (two
    workers on PostgreSQL), each lapsed offer is claimed by exactly one of them. Returns
    how many offers lapsed.
    """
    lapsed = await _close_offers(
        session, WaitlistOffer.expires_at <= clock.now(), OfferStatus.lapsed
    )
    await _offer_again(session, settings, lapsed)
    return len(lapsed)


async def _doctor_week(session: AsyncSession, doctor_id: uuid.UUID) -> Availability | None:
    """The doctor's week, or None for a doctor who no longer works here (no error: a
    cancellation by staff must still go through)."""
    if not await identity.is_active(session, doctor_id):
        return None
    return await get_availability(session=session, doctor_id=doctor_id)


async def _can_take_offer(
    session: AsyncSession, settings: Settings, entry: WaitlistEntry, now: datetime
) -> bool:
    if not await identity.is_active(session, entry.patient_id):
        return False
    holding = await session.scalar(
        select(func.count())
        .select_from(SlotHold)
        .where(
            SlotHold.patient_id == entry.patient_id,
            SlotHold.doctor_id == entry.doctor_id,
            SlotHold.expires_at > now,
        )
    )
    if holding:
        return False
    return await _upcoming_count(session, entry.patient_id) < settings.max_future_appointments


async def _make_offer(
    session: AsyncSession,
    settings: Settings,
    entry: WaitlistEntry,
    starts_at: datetime,
    ends_at: datetime,
    timezone: str,
) -> WaitlistOffer | None:
    now = clock.now()
    hold = SlotHold(
        id=uuid.uuid4(),
        doctor_id=entry.doctor_id,
        patient_id=entry.patient_id,
        starts_at=starts_at,
        ends_at=ends_at,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.waitlist_offer_minutes),
    )
    offer = WaitlistOffer(
        id=uuid.uuid4(),
        entry_id=entry.id,
        doctor_id=entry.doctor_id,
        patient_id=entry.patient_id,
        hold_id=hold.id,
        starts_at=starts_at,
        created_at=now,
        expires_at=hold.expires_at,
        status=OfferStatus.open,
    )
    await session.execute(
        delete(SlotHold).where(
            SlotHold.doctor_id == entry.doctor_id,
            SlotHold.starts_at == starts_at,
            SlotHold.expires_at <= now,
        )
    )
    try:
        async with session.begin_nested():
            session.add_all([hold, offer])
            await session.flush()
    except IntegrityError:
        log.info("waitlist.offer_lost_race", doctor_id=str(entry.doctor_id), starts_at=starts_at)
        return None
    events.announce(session, entry.doctor_id, (starts_at, ends_at), free=False)
    await _tell_offered(session, settings, offer, timezone)
    return offer


async def _tell_offered(
    session: AsyncSession, settings: Settings, offer: WaitlistOffer, timezone: str
) -> None:
    """Text the patient (in their language) that a time is held for them, once committed."""
    patient = await identity.get_patient(session, offer.patient_id)
    doctor = (await identity.names(session, [offer.doctor_id])).get(offer.doctor_id, "")
    language = (
        patient.patient.preferred_language.value if patient.patient else i18n.DEFAULT_LANGUAGE
    )
    zone = ZoneInfo(timezone)
    starts = offer.starts_at.astimezone(zone)
    body = i18n.gettext_in(
        language,
        "{doctor} has a free time on {day} at {time} ({zone}). It is held for you until "
        "{until}: confirm it at {url}, or it goes to the next patient waiting.",
    ).format(
        doctor=doctor,
        day=format_date(starts.date(), "EEEE d MMMM", locale=language),
        time=f"{starts:%H:%M}",
        zone=timezone,
        until=f"{offer.expires_at.astimezone(zone):%H:%M}",
        url=f"{settings.public_url}/appointments",
    )
    if patient.phone:
        await notifications.send(
            session, to=patient.phone, channel=notifications.Channel.sms, body=body
        )
    elif patient.email:
        await notifications.send(
            session, to=patient.email, channel=notifications.Channel.email, body=body
        )


@dataclass(frozen=True)
class _EndedOffer:
    doctor_id: uuid.UUID
    starts_at: datetime
    hold_id: uuid.UUID


async def _close_offers(
    session: AsyncSession, condition: Any, status: OfferStatus
) -> list[_EndedOffer]:
    """End the open offers matching `condition`.

    A conditional `UPDATE … RETURNING` rather than a read then a write, so that of two
    transactions ending one offer (a booking and a sweep, say) only one does it.
    """
    ended = await session.execute(
        update(WaitlistOffer)
        .where(condition, WaitlistOffer.status == OfferStatus.open)
        .values(status=status, ended_at=clock.now())
        .returning(WaitlistOffer.doctor_id, WaitlistOffer.starts_at, WaitlistOffer.hold_id)
    )
    return [_EndedOffer(doctor_id, starts_at, hold_id) for doctor_id, starts_at, hold_id in ended]


async def _offer_again(session: AsyncSession, settings: Settings, ended: list[_EndedOffer]) -> None:
    """Offer each slot whose offer ended unbooked to the next patient, earliest slot first."""
    freed = sorted({(offer.starts_at, offer.doctor_id) for offer in ended})
    for starts_at, doctor_id in freed:
        await offer_freed_slot(
            session=session, settings=settings, doctor_id=doctor_id, starts_at=starts_at
        )


async def _end_entry(
    session: AsyncSession, settings: Settings, entry_id: uuid.UUID, status: WaitlistStatus
) -> bool:
    """End an active entry; slots still held for it by offers go to the next patients."""
    ended = await session.scalar(
        update(WaitlistEntry)
        .where(WaitlistEntry.id == entry_id, WaitlistEntry.status == WaitlistStatus.active)
        .values(status=status, ended_at=clock.now())
        .returning(WaitlistEntry.id)
    )
    if ended is None:
        return False
    withdrawn = await _close_offers(session, WaitlistOffer.entry_id == entry_id, OfferStatus.lapsed)
    if withdrawn:
        held = [offer.hold_id for offer in withdrawn]
        freed = await session.execute(
            delete(SlotHold)
            .where(SlotHold.id.in_(held))
            .returning(SlotHold.doctor_id, SlotHold.starts_at, SlotHold.ends_at)
        )
        for doctor_id, starts_at, ends_at in freed.all():
            events.announce(session, doctor_id, (starts_at, ends_at), free=True)
    await _offer_again(session, settings, withdrawn)
    return True


async def _take_offer(
    session: AsyncSession,
    settings: Settings,
    doctor_id: uuid.UUID,
    starts_at: datetime,
    patient_id: uuid.UUID,
) -> None:
    """Booking a slot offered to the patient fulfils their waitlist place.

    Runs before the slot's hold is claimed: the offer row, then the hold row, the order the
    sweep takes them in. An offer that has already lapsed and passed on is not taken, and the
    booking then meets the next patient's hold like any other.
    """
    taken = await session.execute(
        update(WaitlistOffer)
        .where(
            WaitlistOffer.doctor_id == doctor_id,
            WaitlistOffer.starts_at == starts_at,
            WaitlistOffer.patient_id == patient_id,
            WaitlistOffer.status == OfferStatus.open,
        )
        .values(status=OfferStatus.booked, ended_at=clock.now())
        .returning(WaitlistOffer.entry_id)
    )
    for entry_id in list(taken.scalars()):
        await _end_entry(session, settings, entry_id, WaitlistStatus.fulfilled)


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


# --- for the medical record (records domain) -------------------------------------------------


async def has_appointment(
    session: AsyncSession, *, doctor_id: uuid.UUID, patient_id: uuid.UUID
) -> bool:
    """Whether the patient has (or had) an appointment with the doctor, in any status: one of
    the two relations that open the patient's record to a doctor."""
    found = await session.scalar(
        select(Appointment.id)
        .where(Appointment.doctor_id == doctor_id, Appointment.patient_id == patient_id)
        .limit(1)
    )
    return found is not None


async def patient_appointments(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    before: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 100,
) -> list[Appointment]:
    """A patient's appointments, newest first by (starts_at, id), within [start, end) and
    before a cursor position. No access check: the records domain decides who may read a
    record before it asks."""
    query = select(Appointment).where(Appointment.patient_id == patient_id)
    if doctor_id is not None:
        query = query.where(Appointment.doctor_id == doctor_id)
    if start is not None:
        query = query.where(Appointment.starts_at >= start)
    if end is not None:
        query = query.where(Appointment.starts_at < end)
    if before is not None:
        query = query.where(tuple_(Appointment.starts_at, Appointment.id) < before)
    ordered = query.order_by(Appointment.starts_at.desc(), Appointment.id.desc())
    return list(await session.scalars(ordered.limit(limit)))
