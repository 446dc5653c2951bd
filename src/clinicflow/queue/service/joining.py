"""Taking a place: a booked patient's check-in (by appointment or short code) and a walk-in.

Tokens are a counter on the queue's row, taken inside a savepoint with the entry's insert,
so no number is given twice or skipped; the database's unique `(queue_id, token)` and "one
active place per patient" indexes stand behind both rules.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic import service as clinic
from clinicflow.config import Settings
from clinicflow.core import clock, moments
from clinicflow.core.audit import Actor
from clinicflow.core.errors import ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import PatientType
from clinicflow.notifications import service as notifications
from clinicflow.notifications.service import Kind
from clinicflow.queue import access
from clinicflow.queue.models import Queue, QueueEntry
from clinicflow.queue.schemas import EntrySource, EntryStatus, Severity
from clinicflow.queue.service import other_domains
from clinicflow.queue.service.days import lock, queue_to_join
from clinicflow.queue.service.lifecycle import ACTIVE, START, audit_entry
from clinicflow.queue.service.missed import requeue, take_place_back
from clinicflow.queue.service.queue_state import announce
from clinicflow.queue.service.refusals import already_in_queue, conflict
from clinicflow.queue.service.rules import current_rules
from clinicflow.scheduling.schemas import AppointmentStatus, AppointmentView, Mode

E = EntryStatus
# A patient's "today" is each doctor's own day, so appointments a day either side are looked
# at and kept when they fall on their doctor's today.
NEAR = timedelta(days=1)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def check_in_code(settings: Settings, appointment_id: uuid.UUID) -> str:
    """The short code a patient types or shows at the desk: derived from the appointment
    with the server's secret, so it needs no storage and cannot be guessed from the id."""
    digest = hmac.new(
        settings.secret_key.encode(), b"check-in:" + appointment_id.bytes, hashlib.sha256
    ).digest()
    return "".join(CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in digest[:CODE_LENGTH])


async def appointment_by_code(
    session: AsyncSession, settings: Settings, code: str
) -> AppointmentView | None:
    """Today's (give or take a day) booked appointment with this check-in code."""
    wanted = code.strip().upper().replace("-", "").replace(" ", "")
    for appointment in await other_domains.uncancelled_near(session, clock.now()):
        if hmac.compare_digest(check_in_code(settings, appointment.id), wanted):
            return appointment
    return None


async def appointments_to_check_in(
    session: AsyncSession, actor: Actor, *, limit: int
) -> list[tuple[AppointmentView, ZoneInfo]]:
    """Booked appointments on their doctor's today that the actor may see, each with its
    doctor's zone, to check in."""
    now = clock.now()
    found = await other_domains.booked_between(
        session, actor, start=now - NEAR, end=now + NEAR, limit=limit
    )
    zones: dict[uuid.UUID, ZoneInfo] = {}
    answer = []
    for appointment in found:
        if appointment.doctor_id not in zones:
            await identity.get_doctor(session, appointment.doctor_id)
            zones[appointment.doctor_id] = await other_domains.doctor_zone(
                session, appointment.doctor_id
            )
        zone = zones[appointment.doctor_id]
        if appointment.starts_at.astimezone(zone).date() == now.astimezone(zone).date():
            answer.append((appointment, zone))
    return answer


async def check_in_opens_at(session: AsyncSession, appointment: AppointmentView) -> datetime:
    """When `appointment` may be checked in: the one rule behind the check-in refusal, the
    patient's "Check-in opens at 13:00" and the desk's list, so the button a person sees
    and the answer they get when they press it cannot disagree. The clinic's window
    (`check_in_window_minutes`) before the start, the same for the patient and the front
    desk (issue 18: the desk was free all day while the patient was refused, and a patient
    checked in hours early pushed back everyone who came on time). After the start there
    is no closing time for either: a late patient is checked in the same way and the
    late-appointment bonus orders them (`priority.order`)."""
    _row, rules = await current_rules(session)
    return appointment.starts_at - timedelta(minutes=rules.check_in_window_minutes)


async def join(
    session: AsyncSession,
    queue: Queue,
    *,
    doctor_id: uuid.UUID,
    day: date,
    patient_id: uuid.UUID,
    source: EntrySource,
    severity: Severity,
    patient_type: PatientType,
    appointment: AppointmentView | None = None,
) -> QueueEntry:
    held = await session.scalar(
        select(QueueEntry.id).where(
            QueueEntry.queue_id == queue.id,
            QueueEntry.patient_id == patient_id,
            QueueEntry.status.in_(ACTIVE),
        )
    )
    if held is not None:
        # The place held is named, so an offline desk's walk-in resolves to it (sync).
        raise already_in_queue(entry_id=str(held))
    try:
        # The token is taken inside the savepoint, so a lost race gives its number back.
        async with session.begin_nested():
            token = await lock(session, queue, new_token=True)
            entry = QueueEntry(
                id=uuid.uuid4(),
                queue_id=queue.id,
                doctor_id=doctor_id,
                day=day,
                patient_id=patient_id,
                appointment_id=appointment.id if appointment else None,
                appointment_starts_at=appointment.starts_at if appointment else None,
                online=appointment is not None and appointment.mode is Mode.online,
                token=token,
                status=START,
                severity=severity,
                patient_type=patient_type,
                source=source,
                joined_at=clock.now(),
            )
            session.add(entry)
            await session.flush()
    except IntegrityError:
        raise already_in_queue() from None
    await notifications.about_entry(session, kind=Kind.checked_in, entry=entry)
    return entry


async def latest_entry(session: AsyncSession, appointment_id: uuid.UUID) -> QueueEntry | None:
    """The appointment's newest place in a queue (a re-queue makes a new one)."""
    found: QueueEntry | None = await session.scalar(
        select(QueueEntry)
        .where(QueueEntry.appointment_id == appointment_id)
        .order_by(QueueEntry.joined_at.desc(), QueueEntry.token.desc())
        .limit(1)
    )
    return found


async def check_in(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    appointment_id: uuid.UUID | None = None,
    code: str | None = None,
) -> tuple[QueueEntry, bool]:
    """Give a booked patient who has arrived a token, at the desk or by the patient from
    their phone, from the clinic's window before the start (`check_in_opens_at`).

    Answers (entry, created): checking in twice answers with the place already held.
    """
    appointment = None
    if appointment_id is not None:
        appointment = await other_domains.appointment_for(session, actor, appointment_id)
    elif code:
        appointment = await appointment_by_code(session, settings, code)
        if appointment is not None and not access.can_check_in(actor, appointment):
            appointment = None
    if appointment is None:
        raise not_found()
    access.require_check_in(actor, appointment)
    existing = await latest_entry(session, appointment.id)
    if existing is not None and existing.status in (E.skipped, E.no_show):
        back = (
            await take_place_back(session, actor, existing)
            if existing.status is E.skipped
            else None
        )
        if back is not None:
            return back, False
        late = await requeue(
            session=session,
            actor=actor,
            entry_id=existing.id,
            reason="arrived late",
        )
        return late, True
    if existing is not None and existing.status in ACTIVE:
        return existing, False
    if appointment.status is not AppointmentStatus.booked:
        raise conflict(
            ErrorCode.invalid_transition,
            _("This appointment cannot be checked in any more."),
            status=appointment.status.value,
        )
    doctor = await identity.get_doctor(session, appointment.doctor_id)
    zone = await other_domains.doctor_zone(session, doctor.id)
    now = clock.now()
    day = appointment.starts_at.astimezone(zone).date()
    if day != now.astimezone(zone).date():
        raise conflict(
            ErrorCode.check_in_not_open, _("Check in on the day of the appointment."), day=str(day)
        )
    opens_at = await check_in_opens_at(session, appointment)
    if now < opens_at:
        raise conflict(
            ErrorCode.check_in_not_open,
            _("Check-in opens at {time}.").format(
                time=moments.format_moment(
                    opens_at, (await clinic.current(session=session)).zone, style="time"
                )
            ),
            opens_at=opens_at.isoformat(),
        )
    queue = await queue_to_join(session, doctor.id, day)
    patient = await identity.get_patient(session, appointment.patient_id)
    entry = await join(
        session,
        queue,
        doctor_id=doctor.id,
        day=day,
        patient_id=patient.id,
        source=EntrySource.check_in,
        severity=Severity.routine,
        patient_type=await other_domains.usual_patient_type(session, patient.id),
        appointment=appointment,
    )
    await other_domains.mark_checked_in(session, appointment.id)
    await audit_entry(session, actor, "check_in", entry, appointment_id=str(appointment.id))
    await announce(session, queue, [entry])
    return entry, True


async def walk_in(
    *,
    session: AsyncSession,
    actor: Actor,
    doctor_id: uuid.UUID,
    phone: str,
    name: str,
    severity: Severity,
    patient_type: PatientType | None,
    profile: dict[str, Any] | None = None,
) -> QueueEntry:
    """Register a patient who came without a booking: found by phone, or created by identity
    (they sign in later with a code sent to that phone). `profile` (the fields the desk
    typed) is recorded on their clinical profile by identity, versioned and audited there."""
    access.require_front_desk(actor)
    doctor = await identity.get_doctor(session, doctor_id)
    day = await other_domains.doctor_today(session, doctor.id)
    queue = await queue_to_join(session, doctor.id, day)
    patient = await identity.find_or_register_patient(
        session=session, actor=actor, phone=phone, name=name
    )
    if profile:
        await identity.record_patient_profile(
            session, actor=actor, patient_id=patient.id, changes=profile
        )
    entry = await join(
        session,
        queue,
        doctor_id=doctor.id,
        day=day,
        patient_id=patient.id,
        source=EntrySource.walk_in,
        severity=severity,
        patient_type=patient_type or await other_domains.usual_patient_type(session, patient.id),
    )
    await audit_entry(session, actor, "walk_in", entry, severity=severity.value)
    await announce(session, queue, [entry])
    return entry
