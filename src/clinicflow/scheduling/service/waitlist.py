"""The waitlist: patients waiting for a freed time with a doctor between two days.

A freed slot goes to the first waiting patient who can take it, as an ordinary hold that
lasts `waitlist_offer_minutes`. Each offer is a row, so an entry is never offered the same
slot twice, and an offer that ends unbooked (it lapsed, was released, or its patient left)
hands the slot to the next patient in the same transaction that ends it. Booking the
offered slot (`take_offer`, called by `appointments.book` and `.reschedule`) fulfils the
patient's place.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import i18n
from clinicflow.clinic import service as clinic
from clinicflow.config import Settings
from clinicflow.core import audit, clock, moments
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.notifications import service as notifications
from clinicflow.scheduling import access
from clinicflow.scheduling.models import OfferStatus, SlotHold, WaitlistEntry, WaitlistOffer
from clinicflow.scheduling.schemas import WaitlistStatus
from clinicflow.scheduling.service.announcements import announce
from clinicflow.scheduling.service.availability import doctor_week, get_availability
from clinicflow.scheduling.service.free_time import is_booked, slot_end
from clinicflow.scheduling.service.lifecycle import upcoming_count

log = structlog.get_logger(__name__)


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
) -> WaitlistEntry:
    """Wait for a freed time with a doctor between two of the doctor's days (inclusive)."""
    access.require_waitlist_joiner(actor)
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
        week = await doctor_week(session, doctor_id)
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
    availability = await doctor_week(session, doctor_id)
    if availability is None:
        return None
    timezone = availability.timezone
    ends_at = slot_end(availability, starts_at)
    now = clock.now()
    if ends_at is None or starts_at <= now or await is_booked(session, doctor_id, starts_at):
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
            return await _make_offer(session, settings, entry, starts_at, ends_at)
    return None


async def pass_on_lapsed_offers(*, session: AsyncSession, settings: Settings) -> int:
    """Close the offers whose hold ran out unbooked, and offer each slot to the next patient.

    The offers are claimed with one `UPDATE … RETURNING`: when two sweeps run at once (two
    workers on PostgreSQL), each lapsed offer is claimed by exactly one of them. Returns
    how many offers lapsed.
    """
    lapsed = await close_offers(
        session, WaitlistOffer.expires_at <= clock.now(), OfferStatus.lapsed
    )
    await offer_again(session, settings, lapsed)
    return len(lapsed)


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
    return await upcoming_count(session, entry.patient_id) < settings.max_future_appointments


async def _make_offer(
    session: AsyncSession,
    settings: Settings,
    entry: WaitlistEntry,
    starts_at: datetime,
    ends_at: datetime,
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
    announce(session, entry.doctor_id, (starts_at, ends_at), free=False)
    await _tell_offered(session, settings, offer)
    return offer


async def _tell_offered(session: AsyncSession, settings: Settings, offer: WaitlistOffer) -> None:
    """Text the patient (in their language) that a time is held for them, once committed."""
    patient = await identity.get_patient(session, offer.patient_id)
    doctor = (await identity.names(session, [offer.doctor_id])).get(offer.doctor_id, "")
    language = (
        patient.patient.preferred_language.value if patient.patient else i18n.DEFAULT_LANGUAGE
    )
    # The words are on the clinic's clock, like every time a person reads (core/moments.py);
    # the doctor's zone only decided which day's waitlist the freed time belongs to.
    profile = await clinic.current(session=session, defaults=settings)
    zone = profile.timezone
    body = i18n.gettext_in(
        language,
        "{doctor} has a free time on {day} at {time} ({zone}). It is held for you until "
        "{until}: confirm it at {url}, or it goes to the next patient waiting.",
    ).format(
        doctor=doctor,
        day=moments.format_moment(offer.starts_at, zone, language, "day"),
        time=moments.format_moment(offer.starts_at, zone, language, "time"),
        zone=zone,
        until=moments.format_moment(offer.expires_at, zone, language, "time"),
        url=f"{profile.public_url}/appointments",
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
class EndedOffer:
    """An offer that ended unbooked: its slot is to be offered to the next patient."""

    doctor_id: uuid.UUID
    starts_at: datetime
    hold_id: uuid.UUID


async def close_offers(
    session: AsyncSession, condition: Any, status: OfferStatus
) -> list[EndedOffer]:
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
    return [EndedOffer(doctor_id, starts_at, hold_id) for doctor_id, starts_at, hold_id in ended]


async def offer_again(session: AsyncSession, settings: Settings, ended: list[EndedOffer]) -> None:
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
    withdrawn = await close_offers(session, WaitlistOffer.entry_id == entry_id, OfferStatus.lapsed)
    if withdrawn:
        held = [offer.hold_id for offer in withdrawn]
        freed = await session.execute(
            delete(SlotHold)
            .where(SlotHold.id.in_(held))
            .returning(SlotHold.doctor_id, SlotHold.starts_at, SlotHold.ends_at)
        )
        for doctor_id, starts_at, ends_at in freed.all():
            announce(session, doctor_id, (starts_at, ends_at), free=True)
    await offer_again(session, settings, withdrawn)
    return True


async def take_offer(
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
