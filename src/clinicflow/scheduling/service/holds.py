"""Holds: a slot kept for one patient for a few minutes while they decide.

A hold ends by itself (its expiry), when its patient books the slot (`claim_slot`), when
they release it, or when they hold another time with the same doctor. At most one row per
doctor and start exists: an expired hold is deleted by whoever wants the slot next, in the
same transaction, before inserting theirs. A waitlist offer is an ordinary hold, so
releasing one passes the slot on to the next waiting patient.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic import service as clinic
from clinicflow.config import Settings
from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.identity import service as identity
from clinicflow.scheduling import access
from clinicflow.scheduling.models import OfferStatus, SlotHold, WaitlistOffer
from clinicflow.scheduling.service import free_time, waitlist
from clinicflow.scheduling.service.announcements import announce


async def chosen_patient(
    session: AsyncSession, actor: Actor, patient_id: uuid.UUID | None
) -> uuid.UUID:
    """Whom a hold or booking is for; a patient staff name must exist."""
    chosen = access.patient_for(actor, patient_id)
    if access.books_for_others(actor):
        await identity.get_patient(session, chosen)
    return chosen


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
    patient = await chosen_patient(session, actor, patient_id)
    ends_at = await free_time.bookable_end(session, doctor_id, starts_at)
    if await free_time.is_booked(session, doctor_id, starts_at):
        raise free_time.slot_taken()
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
        expires_at=now
        + timedelta(
            minutes=(await clinic.current(session=session, defaults=settings)).hold_minutes
        ),
    )
    await free_time.insert_or_taken(session, hold)
    for slot in freed:
        announce(session, doctor_id, slot, free=True)
    announce(session, doctor_id, (starts_at, ends_at), free=False)
    return hold


async def release_hold(
    *, session: AsyncSession, settings: Settings, actor: Actor, hold_id: uuid.UUID
) -> None:
    """End a hold early; a waitlist offer released this way passes on to the next patient."""
    hold = await access.get_hold_to_release(session, actor, hold_id)
    # The offer row before the hold row: the order the sweep takes them in, so the two
    # never wait for each other on PostgreSQL.
    passed = await waitlist.close_offers(
        session, WaitlistOffer.hold_id == hold.id, OfferStatus.lapsed
    )
    doctor_id, slot = hold.doctor_id, (hold.starts_at, hold.ends_at)
    await session.delete(hold)
    await session.flush()
    announce(session, doctor_id, slot, free=True)
    await waitlist.offer_again(session, settings, passed)


async def get_hold(*, session: AsyncSession, actor: Actor, hold_id: uuid.UUID) -> SlotHold:
    """A hold that still keeps its slot, for the patient it keeps it for (or staff)."""
    return await access.get_hold_for(session, actor, hold_id)


async def claim_slot(
    session: AsyncSession, doctor_id: uuid.UUID, starts_at: datetime, patient: uuid.UUID
) -> None:
    """Refuse a slot someone else holds; end any hold on it that is the patient's or expired."""
    hold = await session.scalar(
        select(SlotHold).where(SlotHold.doctor_id == doctor_id, SlotHold.starts_at == starts_at)
    )
    if hold is None:
        return
    if hold.expires_at > clock.now() and hold.patient_id != patient:
        raise free_time.slot_taken()
    await session.delete(hold)
    await session.flush()
