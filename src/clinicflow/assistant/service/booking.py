"""Booking by conversation: a patient writes as they would to a receptionist, and the
assistant finds matching doctors and free times, holds the one they pick, and books it when
they say yes.

Every step is a scheduling verb, so every rule of booking holds here as on the booking
page: `free_slots` (what is free, for this patient), `hold_slot` (the clinic's few-minute
hold, so nobody else takes the time meanwhile), `book` (the limit on upcoming appointments,
the cut-off, a waitlist offer made to someone else), `release_hold`, `join_waitlist`. A
refusal is answered in words (its message), never as an error.

The hold is scheduling's: it stops keeping the time at its expiry whatever happens here (a
patient who goes silent loses it after `hold_minutes`, by the injectable clock), and the
next message says so. "No", or leaving (`end_conversation`, the page's DELETE), releases it
at once. Understanding is offline and by rules (`booking/understanding.py`), or Gemini's
function calls over the same filters with a key (`booking/gemini_reader.py`); the replies'
words are in `booking/wording.py`, in the reader's language.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.assistant import access
from clinicflow.assistant.booking import wording
from clinicflow.assistant.booking.understanding import (
    PART_HOURS,
    Answer,
    Named,
    Part,
    Reader,
    Wish,
)
from clinicflow.assistant.models import BookingConversation
from clinicflow.clinic import service as clinic
from clinicflow.config import Settings
from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.identity import service as identity
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import Mode

# How many times are offered at once, and how far ahead a request naming no day looks.
OFFERS = 3
DEFAULT_DAYS = 14


@dataclass(frozen=True)
class Offer:
    doctor_id: uuid.UUID
    doctor_name: str
    starts_at: datetime


@dataclass(frozen=True)
class Turn:
    """The assistant's answer to one message: the words, the times on offer, the hold it
    keeps (id, expiry) and the appointment it made (id, start)."""

    reply: str
    offers: list[Offer] = field(default_factory=list)
    hold: tuple[uuid.UUID, datetime] | None = None
    appointment: tuple[uuid.UUID, datetime] | None = None


@dataclass(frozen=True)
class _Desk:
    """What a turn reads once: the clinic's clock and the doctors patients may book."""

    zone: ZoneInfo
    today: date
    hold_minutes: int
    doctors: list[tuple[uuid.UUID, str, uuid.UUID | None]]  # id, name, specialty
    specialties: list[Named]

    def name_of(self, doctor_id: uuid.UUID) -> str:
        return next((name for id_, name, _s in self.doctors if id_ == doctor_id), "")


async def _desk(session: AsyncSession, settings: Settings) -> _Desk:
    profile = await clinic.current(session=session, defaults=settings)
    zone = ZoneInfo(profile.timezone)
    doctors = [
        (user.id, user.name, user.doctor.specialty_id if user.doctor else None)
        for user in await identity.search_doctors(session)
    ]
    specialties = [
        Named(s.id, (s.name_en, s.name_sw)) for s in await identity.specialties(session=session)
    ]
    return _Desk(
        zone, clock.now().astimezone(zone).date(), profile.hold_minutes, doctors, specialties
    )


def _wish_json(wish: Wish, before: dict[str, Any]) -> dict[str, Any]:
    """What the conversation asks for now: what this message says, over what it said before."""
    merged = dict(before)
    if wish.first_day and wish.last_day:
        merged["days"] = [wish.first_day.isoformat(), wish.last_day.isoformat()]
    if wish.part:
        merged["part"] = wish.part.value
    if wish.doctor_ids:
        merged["doctors"] = [str(d) for d in wish.doctor_ids]
        merged.pop("specialties", None)
    elif wish.specialty_ids:
        merged["specialties"] = [str(s) for s in wish.specialty_ids]
        merged.pop("doctors", None)
    return merged


def _candidates(desk: _Desk, wish: dict[str, Any]) -> list[uuid.UUID]:
    if wish.get("doctors"):
        return [uuid.UUID(d) for d in wish["doctors"]]
    wanted = {uuid.UUID(s) for s in wish.get("specialties", [])}
    return [id_ for id_, _n, specialty in desk.doctors if not wanted or specialty in wanted]


def _days(desk: _Desk, wish: dict[str, Any]) -> tuple[date, date]:
    if "days" in wish:
        first, last = (date.fromisoformat(d) for d in wish["days"])
        return first, last
    return desk.today, desk.today + timedelta(days=DEFAULT_DAYS - 1)


async def _search(
    session: AsyncSession, settings: Settings, actor: Actor, desk: _Desk, wish: dict[str, Any]
) -> list[Offer]:
    """The earliest free times that match, one list over every matching doctor, through
    scheduling's `free_slots` (what the booking page shows this patient)."""
    first, last = _days(desk, wish)
    start = max(clock.now(), datetime.combine(first, time(), desk.zone))
    end = datetime.combine(last + timedelta(days=1), time(), desk.zone)
    hours = PART_HOURS[Part(wish["part"])] if wish.get("part") else (0, 24)
    found: list[Offer] = []
    for doctor_id in _candidates(desk, wish):
        if end <= start:
            break
        _zone, slots = await scheduling.free_slots(
            session=session,
            settings=settings,
            doctor_id=doctor_id,
            start=start,
            end=end,
            viewer_id=actor.id,
        )
        found.extend(
            Offer(doctor_id, desk.name_of(doctor_id), starts_at)
            for starts_at, _ends in slots
            if hours[0] <= starts_at.astimezone(desk.zone).hour < hours[1]
        )
    return sorted(found, key=lambda offer: (offer.starts_at, offer.doctor_name))[:OFFERS]


def _offer_json(offer: Offer) -> dict[str, str]:
    return {
        "doctor_id": str(offer.doctor_id),
        "doctor_name": offer.doctor_name,
        "starts_at": offer.starts_at.isoformat(),
    }


def _offer_of(data: dict[str, Any]) -> Offer:
    return Offer(
        uuid.UUID(data["doctor_id"]), data["doctor_name"], datetime.fromisoformat(data["starts_at"])
    )


def _hold_of(conversation: BookingConversation) -> tuple[uuid.UUID, datetime] | None:
    held = conversation.held
    return (uuid.UUID(held["id"]), datetime.fromisoformat(held["expires_at"])) if held else None


async def _load(
    session: AsyncSession, actor: Actor, conversation_id: uuid.UUID
) -> BookingConversation:
    conversation = await session.get(BookingConversation, conversation_id, with_for_update=True)
    if conversation is None:
        raise not_found()
    access.require_conversation_owner(actor, conversation.patient_id)
    return conversation


async def start_conversation(*, session: AsyncSession, actor: Actor) -> uuid.UUID:
    """A new conversation for a patient booking for themself."""
    access.require_booker(actor)
    now = clock.now()
    conversation = BookingConversation(
        id=uuid.uuid4(),
        patient_id=actor.id,
        status="open",
        wish={},
        offers=[],
        created_at=now,
        updated_at=now,
    )
    session.add(conversation)
    await session.flush()
    return conversation.id


async def _release(
    session: AsyncSession, settings: Settings, actor: Actor, conversation: BookingConversation
) -> None:
    """Let the held time go at once (a hold already expired, or taken over, is left as is)."""
    hold = _hold_of(conversation)
    conversation.held = None
    if hold is None or hold[1] <= clock.now():
        return
    try:
        await scheduling.release_hold(
            session=session, settings=settings, actor=actor, hold_id=hold[0]
        )
    except AppError as exc:
        if exc.code is not ErrorCode.not_found:
            raise


def _said(notes: list[str], text: str) -> str:
    return "\n".join([*notes, text])


async def _offer(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    desk: _Desk,
    conversation: BookingConversation,
    notes: list[str],
) -> Turn:
    """Offer the earliest matching times, or (with nothing free) the waitlist of the one
    doctor asked for."""
    offers = await _search(session, settings, actor, desk, conversation.wish)
    conversation.offers = [_offer_json(offer) for offer in offers]
    conversation.waitlist = None
    if offers:
        lines = [(o.doctor_name, wording.when(o.starts_at, desk.zone)) for o in offers]
        return Turn(_said(notes, wording.offers(lines)), offers)
    candidates = _candidates(desk, conversation.wish)
    if len(candidates) == 1 and "days" in conversation.wish:
        first, last = _days(desk, conversation.wish)
        conversation.waitlist = {
            "doctor_id": str(candidates[0]),
            "first_day": first.isoformat(),
            "last_day": last.isoformat(),
        }
        text = wording.offer_waitlist(
            desk.name_of(candidates[0]), wording.day(first), wording.day(last)
        )
        return Turn(_said(notes, text))
    return Turn(_said(notes, wording.nothing_free()))


async def _hold(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    desk: _Desk,
    conversation: BookingConversation,
    offer: Offer,
    notes: list[str],
) -> Turn:
    try:
        hold = await scheduling.hold_slot(
            session=session,
            settings=settings,
            actor=actor,
            doctor_id=offer.doctor_id,
            starts_at=offer.starts_at,
        )
    except AppError as exc:
        if exc.code not in (ErrorCode.slot_taken, ErrorCode.slot_unavailable):
            return Turn(_said(notes, exc.message), [_offer_of(o) for o in conversation.offers])
        # Taken by someone else, or no longer a slot at all (begun, the week changed).
        lost = wording.taken() if exc.code is ErrorCode.slot_taken else wording.gone()
        return await _offer(session, settings, actor, desk, conversation, [*notes, lost])
    conversation.held = {
        "id": str(hold.id),
        "doctor_id": str(offer.doctor_id),
        "starts_at": offer.starts_at.isoformat(),
        "expires_at": hold.expires_at.isoformat(),
    }
    text = wording.held(
        offer.doctor_name,
        wording.when(offer.starts_at, desk.zone),
        wording.clock_time(hold.expires_at, desk.zone),
    )
    return Turn(_said(notes, text), [offer], (hold.id, hold.expires_at))


async def _book(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    desk: _Desk,
    conversation: BookingConversation,
) -> Turn:
    held = conversation.held or {}
    offer = _offer_of({**held, "doctor_name": desk.name_of(uuid.UUID(held["doctor_id"]))})
    try:
        appointment = await scheduling.book(
            session=session,
            settings=settings,
            actor=actor,
            doctor_id=offer.doctor_id,
            starts_at=offer.starts_at,
            mode=Mode.in_person,
        )
    except AppError as exc:
        # The upcoming limit, the cut-off, a time lost meanwhile: said in words; the hold
        # is let go so the time is free for others.
        await _release(session, settings, actor, conversation)
        if exc.code is ErrorCode.slot_taken:
            return await _offer(session, settings, actor, desk, conversation, [wording.taken()])
        return Turn(exc.message)
    conversation.held = None
    conversation.offers = []
    conversation.status = "booked"
    conversation.appointment_id = appointment.id
    text = wording.booked(offer.doctor_name, wording.when(offer.starts_at, desk.zone))
    return Turn(text, appointment=(appointment.id, appointment.starts_at))


async def _answer_waitlist(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    desk: _Desk,
    conversation: BookingConversation,
    answer: Answer,
) -> Turn:
    waitlist, conversation.waitlist = conversation.waitlist or {}, None
    if answer is Answer.no:
        return Turn(wording.released())
    doctor_id = uuid.UUID(waitlist["doctor_id"])
    try:
        await scheduling.join_waitlist(
            session=session,
            settings=settings,
            actor=actor,
            doctor_id=doctor_id,
            first_day=date.fromisoformat(waitlist["first_day"]),
            last_day=date.fromisoformat(waitlist["last_day"]),
        )
    except AppError as exc:
        return Turn(exc.message)
    return Turn(wording.waitlisted(desk.name_of(doctor_id)))


async def say(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    conversation_id: uuid.UUID,
    text: str,
    reader: Reader,
) -> Turn:
    """The assistant's answer to the patient's next message (see the module's flow), read by
    `reader` (the rules, or Gemini's function calls: the same filters either way)."""
    conversation = await _load(session, actor, conversation_id)
    if conversation.status != "open":
        return Turn(wording.ended())
    conversation.updated_at = clock.now()
    desk = await _desk(session, settings)
    doctors = [Named(id_, (name,)) for id_, name, _s in desk.doctors]
    wish = await reader.read(text, today=desk.today, specialties=desk.specialties, doctors=doctors)
    notes: list[str] = []
    hold = _hold_of(conversation)
    if hold is not None and hold[1] <= clock.now():
        # Silence past the hold: scheduling has stopped keeping the time already.
        conversation.held, hold = None, None
        notes.append(wording.lapsed(desk.hold_minutes))
    if hold is not None:
        if wish.answer is Answer.yes:
            return await _book(session, settings, actor, desk, conversation)
        if wish.answer is Answer.no:
            await _release(session, settings, actor, conversation)
            return Turn(wording.released())
        if not wish.asks_for_times and wish.choice is None:
            offers = [_offer_of(o) for o in conversation.offers]
            return Turn(wording.yes_or_no(), offers, hold)
        await _release(session, settings, actor, conversation)
    if conversation.waitlist and wish.answer is not None and not wish.asks_for_times:
        return await _answer_waitlist(session, settings, actor, desk, conversation, wish.answer)
    if wish.choice is not None and conversation.offers and not wish.asks_for_times:
        if wish.choice > len(conversation.offers):
            offers = [_offer_of(o) for o in conversation.offers]
            return Turn(wording.choose(len(offers)), offers)
        chosen = _offer_of(conversation.offers[wish.choice - 1])
        return await _hold(session, settings, actor, desk, conversation, chosen, notes)
    if wish.asks_for_times:
        conversation.wish = _wish_json(wish, conversation.wish)
    elif not conversation.wish:
        return Turn(_said(notes, wording.ask_what()))
    return await _offer(session, settings, actor, desk, conversation, notes)


async def refresh(
    *, session: AsyncSession, settings: Settings, actor: Actor, conversation_id: uuid.UUID
) -> Turn:
    """Check the times on offer are still free (the page asks when the availability topic
    says one was taken): a time taken meanwhile is withdrawn, with an apology and a new
    offer; otherwise the same offers, and no words."""
    conversation = await _load(session, actor, conversation_id)
    offered = [_offer_of(o) for o in conversation.offers]
    if conversation.status != "open" or conversation.held or not offered:
        return Turn("", offered, _hold_of(conversation))
    desk = await _desk(session, settings)
    fresh = await _search(session, settings, actor, desk, conversation.wish)
    still = {(o.doctor_id, o.starts_at) for o in fresh}
    if all((o.doctor_id, o.starts_at) in still for o in offered):
        return Turn("", offered)
    return await _offer(session, settings, actor, desk, conversation, [wording.withdrawn()])


async def end_conversation(
    *, session: AsyncSession, settings: Settings, actor: Actor, conversation_id: uuid.UUID
) -> None:
    """The patient leaves: any hold is released at once and the conversation ends."""
    conversation = await _load(session, actor, conversation_id)
    await _release(session, settings, actor, conversation)
    if conversation.status == "open":
        conversation.status = "ended"
    conversation.updated_at = clock.now()
