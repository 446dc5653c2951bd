"""The rules of the live queue: tokens, order, position and wait, and the doctor's controls.

Every change to a queue starts by bumping its row's `revision` with `UPDATE … RETURNING`,
which also takes the row's lock: changes to one queue run one after another, on SQLite and
PostgreSQL alike, and each leaves a numbered state. Tokens are a counter on the same row,
so no number is given twice or skipped, and the database's unique `(queue_id, token)` and
"one active place per patient" indexes stand behind both rules. After the transaction
commits, `queue.updated` tells every follower of `queue:<doctor_id>:<date>` the new state.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import realtime
from clinicflow.config import Settings
from clinicflow.consultations import service as consultations
from clinicflow.consultations.models import Consultation
from clinicflow.core import audit, clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.identity.models import PatientType, User
from clinicflow.identity.schemas import Role
from clinicflow.notifications import service as notifications
from clinicflow.notifications.service import Kind
from clinicflow.queue import access, priority, schemas
from clinicflow.queue.models import (
    ACTIVE,
    EntrySource,
    EntryStatus,
    Queue,
    QueueEntry,
    QueueRules,
    Reassignment,
    Severity,
)
from clinicflow.scheduling import access as scheduling_access
from clinicflow.scheduling.models import Appointment, AppointmentStatus, Availability, Mode

E = EntryStatus
UPDATED = "queue.updated"
SNAPSHOT = "queue.snapshot"
UNDO_SECONDS = 120
AVERAGE_OVER = 20
MEET_LINK_TOLD = 10
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def topic(doctor_id: uuid.UUID, day: date) -> str:
    return f"queue:{doctor_id}:{day.isoformat()}"


def _conflict(code: ErrorCode, message: str, **details: Any) -> AppError:
    return AppError(code, message, details)


def _already_in_queue() -> AppError:
    return _conflict(
        ErrorCode.already_in_queue, _("This patient already has a place in this queue.")
    )


# --- rules -----------------------------------------------------------------------------------


async def current_rules(session: AsyncSession) -> tuple[QueueRules | None, priority.Rules]:
    """The newest version of the clinic's rules (None and the defaults before any change)."""
    row = await session.scalar(select(QueueRules).order_by(QueueRules.version.desc()).limit(1))
    if row is None:
        return None, priority.Rules()
    return row, priority.Rules(**row.values)


async def set_rules(
    *,
    session: AsyncSession,
    actor: Actor,
    rules: priority.Rules,
    client_ip: str | None = None,
) -> QueueRules:
    """Store a new version; the old ones stay, and the change is audited with both."""
    if actor.role is not Role.admin:
        raise AppError(ErrorCode.forbidden, _("Only an administrator can change queue rules."))
    previous, before = await current_rules(session)
    row = QueueRules(
        version=(previous.version if previous else 0) + 1,
        values=rules_values(rules),
        created_at=clock.now(),
        created_by_id=actor.id,
    )
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise _conflict(
            ErrorCode.rules_changed, _("The rules were changed meanwhile. Load them and try again.")
        ) from None
    await audit.record(
        session,
        action="queue.rules_changed",
        resource_type="queue_rules",
        resource_id=row.version,
        actor=actor,
        ip=client_ip,
        details={"before": rules_values(before), "after": row.values},
    )
    return row


def rules_values(rules: priority.Rules) -> dict[str, Any]:
    return {
        "severity_weights": dict(rules.severity_weights),
        "patient_type_weights": dict(rules.patient_type_weights),
        "late_appointment_bonus": rules.late_appointment_bonus,
        "aging_weight_per_minute": rules.aging_weight_per_minute,
        "no_show_grace_minutes": rules.no_show_grace_minutes,
        "check_in_window_minutes": rules.check_in_window_minutes,
    }


async def rules_for(
    *, session: AsyncSession, actor: Actor
) -> tuple[QueueRules | None, priority.Rules]:
    if actor.role is not Role.admin:
        raise AppError(ErrorCode.forbidden, _("Only an administrator can see queue rules."))
    return await current_rules(session)


# --- days and queues -------------------------------------------------------------------------


async def doctor_zone(session: AsyncSession, doctor: User) -> ZoneInfo:
    """The zone of the doctor's working week (where their days begin and end)."""
    week = await session.get(Availability, doctor.id)
    name = week.timezone if week else (doctor.doctor.timezone if doctor.doctor else "UTC")
    return ZoneInfo(name)


async def doctor_today(session: AsyncSession, doctor: User) -> date:
    return clock.now().astimezone(await doctor_zone(session, doctor)).date()


async def _get_queue(session: AsyncSession, doctor_id: uuid.UUID, day: date) -> Queue | None:
    found: Queue | None = await session.scalar(
        select(Queue).where(Queue.doctor_id == doctor_id, Queue.day == day)
    )
    return found


async def _open_queue(session: AsyncSession, doctor_id: uuid.UUID, day: date) -> Queue:
    """The day's queue, created by whoever joins first; a concurrent creator's row wins."""
    values = {
        "id": uuid.uuid4(),
        "doctor_id": doctor_id,
        "day": day,
        "last_token": 0,
        "revision": 0,
        "paused": False,
        "doctor_away": False,
        "created_at": clock.now(),
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(Queue).values(**values).on_conflict_do_nothing(index_elements=["doctor_id", "day"])
    )
    queue = await _get_queue(session, doctor_id, day)
    assert queue is not None
    return queue


async def _lock(session: AsyncSession, queue: Queue, *, new_token: bool = False) -> int:
    """Take the queue's row for this transaction and give the change its revision (and a
    new token when `new_token`); answers the token, or the revision."""
    statement = update(Queue).where(Queue.id == queue.id).values(revision=Queue.revision + 1)
    if new_token:
        statement = statement.values(last_token=Queue.last_token + 1)
    row = (
        await session.execute(
            statement.returning(Queue.revision, Queue.last_token).execution_options(
                synchronize_session=False
            )
        )
    ).one()
    await session.refresh(queue)
    return int(row.last_token if new_token else row.revision)


# --- the state of a queue --------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """A queue as everyone sees it at one moment: the order of those waiting and the pace."""

    queue: Queue
    ordered: list[priority.Candidate]
    average_minutes: float
    now: datetime
    positions: dict[uuid.UUID, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "positions", {waiting.id: index for index, waiting in enumerate(self.ordered)}
        )

    @property
    def waiting_count(self) -> int:
        return len(self.ordered)

    def position(self, entry: QueueEntry) -> int | None:
        return self.positions.get(entry.id)

    def entry(self, entry: QueueEntry, patient_name: str | None = None) -> schemas.EntryOut:
        return schemas.entry_out(
            entry,
            position=self.position(entry) if entry.status is E.waiting else None,
            average_minutes=self.average_minutes,
            now=self.now,
            patient_name=patient_name,
        )

    def public(self) -> dict[str, Any]:
        """What every follower may know: numbers, never names."""
        return {
            "doctor_id": str(self.queue.doctor_id),
            "date": self.queue.day.isoformat(),
            "revision": self.queue.revision,
            "serving_token": self.queue.serving_token,
            "waiting_count": self.waiting_count,
            "paused": self.queue.paused,
            "doctor_away": self.queue.doctor_away,
            "average_minutes": round(self.average_minutes, 1),
            "order": [waiting.token for waiting in self.ordered],
        }


# What ordering reads of each waiting entry, in `priority.Candidate`'s field order: plain
# rows rather than entries, since every snapshot and change orders the whole queue.
CANDIDATE_COLUMNS = (
    QueueEntry.id,
    QueueEntry.token,
    QueueEntry.severity,
    QueueEntry.patient_type,
    QueueEntry.joined_at,
    QueueEntry.appointment_starts_at,
    QueueEntry.pinned_before_id,
    QueueEntry.pinned_at,
)


async def average_minutes(session: AsyncSession, doctor_id: uuid.UUID) -> float:
    """The mean length of the doctor's last finished visits, or their usual minutes."""
    recent = (
        select(QueueEntry.duration_seconds)
        .where(
            QueueEntry.doctor_id == doctor_id,
            QueueEntry.status == E.completed,
            QueueEntry.duration_seconds.is_not(None),
        )
        .order_by(QueueEntry.finished_at.desc())
        .limit(AVERAGE_OVER)
        .subquery()
    )
    mean = await session.scalar(select(func.avg(recent.c.duration_seconds)))
    if mean is not None:
        return float(mean) / 60
    doctor = await session.get(User, doctor_id)
    return float(doctor.doctor.consultation_minutes if doctor and doctor.doctor else 15)


async def _not_opened(session: AsyncSession, doctor_id: uuid.UUID, day: date) -> State:
    """The state of a queue nobody has joined yet (its row is made by the first join)."""
    queue = Queue(
        id=uuid.uuid4(),
        doctor_id=doctor_id,
        day=day,
        last_token=0,
        revision=0,
        paused=False,
        doctor_away=False,
        created_at=clock.now(),
    )
    return State(queue, [], await average_minutes(session, doctor_id), clock.now())


async def state(session: AsyncSession, queue: Queue) -> State:
    rows = await session.execute(
        select(*CANDIDATE_COLUMNS).where(
            QueueEntry.queue_id == queue.id, QueueEntry.status == E.waiting
        )
    )
    now = clock.now()
    _row, rules = await current_rules(session)
    return State(
        queue=queue,
        ordered=priority.order((priority.Candidate(*row) for row in rows), rules, now),
        average_minutes=await average_minutes(session, queue.doctor_id),
        now=now,
    )


async def _announce(
    session: AsyncSession,
    queue: Queue,
    changed: Sequence[QueueEntry] = (),
    *,
    recalled: QueueEntry | None = None,
) -> State:
    """Tell the queue's followers its new state once this transaction commits; `changed`
    names (by id, token and status) the entries whose own status moved."""
    await session.flush()
    current = await state(session, queue)
    data = current.public()
    data["changed"] = [
        {"id": str(e.id), "token": e.token, "status": e.status.value} for e in changed
    ]
    data["recalled_token"] = recalled.token if recalled else None
    realtime.publish_on_commit(
        session, realtime.Event(topic=topic(queue.doctor_id, queue.day), type=UPDATED, data=data)
    )
    head = await _entries_of(session, current.ordered[: notifications.MILESTONES[-1][1]])
    await notifications.queue_positions(session, ordered=head)
    return current


async def _entries_of(
    session: AsyncSession, waiting: Sequence[priority.Candidate]
) -> list[QueueEntry]:
    """The entries of these waiting places, in the same order."""
    ids = [place.id for place in waiting]
    found = await session.scalars(select(QueueEntry).where(QueueEntry.id.in_(ids)))
    by_id = {entry.id: entry for entry in found}
    return [by_id[entry_id] for entry_id in ids]


# --- joining ---------------------------------------------------------------------------------


def check_in_code(settings: Settings, appointment_id: uuid.UUID) -> str:
    """The short code a patient types or shows at the desk: derived from the appointment
    with the server's secret, so it needs no storage and cannot be guessed from the id."""
    digest = hmac.new(
        settings.secret_key.encode(), b"check-in:" + appointment_id.bytes, hashlib.sha256
    ).digest()
    return "".join(CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in digest[:CODE_LENGTH])


async def appointment_by_code(
    session: AsyncSession, settings: Settings, code: str
) -> Appointment | None:
    """Today's (give or take a day) booked appointment with this check-in code."""
    wanted = code.strip().upper().replace("-", "").replace(" ", "")
    now = clock.now()
    candidates = await session.scalars(
        select(Appointment).where(
            Appointment.starts_at >= now - timedelta(days=1),
            Appointment.starts_at <= now + timedelta(days=1),
            Appointment.status != AppointmentStatus.cancelled,
        )
    )
    for appointment in candidates:
        if hmac.compare_digest(check_in_code(settings, appointment.id), wanted):
            return appointment
    return None


async def _queue_to_join(session: AsyncSession, doctor_id: uuid.UUID, day: date) -> Queue:
    """The day's queue, its row taken before anything else a join writes: joins to one
    queue then run one after another from the start, so two desks registering the same
    new patient cannot deadlock on the patient's row and the queue's."""
    queue = await _open_queue(session, doctor_id, day)
    await _lock(session, queue)
    return queue


async def _join(
    session: AsyncSession,
    queue: Queue,
    *,
    doctor: User,
    day: date,
    patient: User,
    source: EntrySource,
    severity: Severity,
    patient_type: PatientType,
    appointment: Appointment | None = None,
) -> QueueEntry:
    held = await session.scalar(
        select(QueueEntry.id).where(
            QueueEntry.queue_id == queue.id,
            QueueEntry.patient_id == patient.id,
            QueueEntry.status.in_(ACTIVE),
        )
    )
    if held is not None:
        raise _already_in_queue()
    try:
        # The token is taken inside the savepoint, so a lost race gives its number back.
        async with session.begin_nested():
            token = await _lock(session, queue, new_token=True)
            entry = QueueEntry(
                id=uuid.uuid4(),
                queue_id=queue.id,
                doctor_id=doctor.id,
                day=day,
                patient_id=patient.id,
                appointment_id=appointment.id if appointment else None,
                appointment_starts_at=appointment.starts_at if appointment else None,
                online=bool(appointment and appointment.mode is Mode.online),
                token=token,
                status=E.waiting,
                severity=severity,
                patient_type=patient_type,
                source=source,
                joined_at=clock.now(),
            )
            session.add(entry)
            await session.flush()
    except IntegrityError:
        raise _already_in_queue() from None
    await notifications.about_entry(session, kind=Kind.checked_in, entry=entry)
    return entry


async def _latest_entry(session: AsyncSession, appointment_id: uuid.UUID) -> QueueEntry | None:
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
    client_ip: str | None = None,
) -> tuple[QueueEntry, bool]:
    """Give a booked patient who has arrived a token: at the desk at any time of the day,
    or by the patient from their phone within the clinic's window before the start.

    Answers (entry, created): checking in twice answers with the place already held.
    """
    appointment = None
    if appointment_id is not None:
        appointment = await scheduling_access.get_appointment_for(session, actor, appointment_id)
    elif code:
        appointment = await appointment_by_code(session, settings, code)
        if appointment is not None and not (
            access.is_front_desk(actor) or actor.id == appointment.patient_id
        ):
            appointment = None
    if appointment is None:
        raise not_found()
    if not (access.is_front_desk(actor) or actor.id == appointment.patient_id):
        raise AppError(ErrorCode.forbidden, _("Only the patient or the front desk can check in."))
    existing = await _latest_entry(session, appointment.id)
    if existing is not None and existing.status in (E.skipped, E.no_show):
        back = (
            await _take_place_back(session, actor, existing)
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
            client_ip=client_ip,
        )
        return late, True
    if existing is not None and existing.status in ACTIVE:
        return existing, False
    if appointment.status is not AppointmentStatus.booked:
        raise _conflict(
            ErrorCode.invalid_transition,
            _("This appointment cannot be checked in any more."),
            status=appointment.status.value,
        )
    doctor = await identity.get_doctor(session, appointment.doctor_id)
    zone = await doctor_zone(session, doctor)
    now = clock.now()
    day = appointment.starts_at.astimezone(zone).date()
    if day != now.astimezone(zone).date():
        raise _conflict(
            ErrorCode.check_in_not_open, _("Check in on the day of the appointment."), day=str(day)
        )
    _row, rules = await current_rules(session)
    opens_at = appointment.starts_at - timedelta(minutes=rules.check_in_window_minutes)
    if not access.is_front_desk(actor) and now < opens_at:
        raise _conflict(
            ErrorCode.check_in_not_open,
            _("Check-in opens {minutes} minutes before your appointment.").format(
                minutes=rules.check_in_window_minutes
            ),
            opens_at=opens_at.isoformat(),
        )
    queue = await _queue_to_join(session, doctor.id, day)
    patient = await identity.get_patient(session, appointment.patient_id)
    entry = await _join(
        session,
        queue,
        doctor=doctor,
        day=day,
        patient=patient,
        source=EntrySource.check_in,
        severity=Severity.routine,
        patient_type=patient.patient.patient_type if patient.patient else PatientType.adult,
        appointment=appointment,
    )
    appointment.status = AppointmentStatus.checked_in
    await audit.record(
        session,
        action="queue.check_in",
        resource_type="queue_entry",
        resource_id=entry.id,
        actor=actor,
        ip=client_ip,
        details={"appointment_id": str(appointment.id), "token": entry.token},
    )
    await _announce(session, queue, [entry])
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
    client: identity.Client,
) -> QueueEntry:
    """Register a patient who came without a booking: found by phone, or created."""
    access.require_front_desk(actor)
    doctor = await identity.get_doctor(session, doctor_id)
    day = await doctor_today(session, doctor)
    queue = await _queue_to_join(session, doctor.id, day)
    patient = await identity.find_or_register_patient(
        session=session, actor=actor, phone=phone, name=name, client=client
    )
    kind = patient_type or (patient.patient.patient_type if patient.patient else PatientType.adult)
    entry = await _join(
        session,
        queue,
        doctor=doctor,
        day=day,
        patient=patient,
        source=EntrySource.walk_in,
        severity=severity,
        patient_type=kind,
    )
    await audit.record(
        session,
        action="queue.walk_in",
        resource_type="queue_entry",
        resource_id=entry.id,
        actor=actor,
        ip=client.ip,
        details={"token": entry.token, "severity": severity.value},
    )
    await _announce(session, queue, [entry])
    return entry


# --- reading ---------------------------------------------------------------------------------


async def queue_for(
    *, session: AsyncSession, actor: Actor, doctor_id: uuid.UUID, day: date | None
) -> tuple[State, list[QueueEntry]]:
    """The queue as this actor may see it, with the entries they may see: every entry of
    the day for the desk and the doctor, the patient's own for a patient in it."""
    doctor = await identity.get_doctor(session, doctor_id)
    day = day or await doctor_today(session, doctor)
    queue = await _get_queue(session, doctor_id, day)
    staff = access.sees_whole_queue(actor, doctor_id)
    if queue is None:
        if not staff:
            raise not_found()
        return await _not_opened(session, doctor_id, day), []
    query = select(QueueEntry).where(QueueEntry.queue_id == queue.id)
    if not staff:
        query = query.where(QueueEntry.patient_id == actor.id)
    entries = list(await session.scalars(query.order_by(QueueEntry.token)))
    if not staff and not entries:
        raise not_found()
    return await state(session, queue), entries


async def queue_of(session: AsyncSession, entry: QueueEntry) -> Queue:
    queue = await session.get(Queue, entry.queue_id)
    assert queue is not None
    return queue


async def patient_name(session: AsyncSession, entry: QueueEntry) -> str | None:
    return (await identity.names(session, [entry.patient_id])).get(entry.patient_id)


async def visible_names(
    session: AsyncSession, actor: Actor, doctor_id: uuid.UUID, entries: Sequence[QueueEntry]
) -> dict[uuid.UUID, str]:
    """Patients' names for staff of the queue; none for a patient (not even their own,
    which they know)."""
    if not access.sees_whole_queue(actor, doctor_id):
        return {}
    return await identity.names(session, {e.patient_id for e in entries})


async def my_places(*, session: AsyncSession, actor: Actor) -> list[schemas.MyEntryOut]:
    """The patient's places in today's queues with each queue's state, newest first."""
    places = await my_entries(session=session, actor=actor)
    doctors = {d.id: d for d in await identity.users(session, {e.doctor_id for _s, e in places})}
    answer = []
    for current, entry in places:
        doctor = doctors[entry.doctor_id]
        consultation_url = None
        if entry.status is E.in_consultation and entry.consultation_id is not None:
            consultation = await session.get(Consultation, entry.consultation_id)
            consultation_url = consultation.meet_url if consultation else None
        answer.append(
            schemas.MyEntryOut(
                **current.entry(entry).model_dump(),
                doctor_name=doctor.name,
                serving_token=current.queue.serving_token,
                waiting_count=current.waiting_count,
                paused=current.queue.paused,
                doctor_away=current.queue.doctor_away,
                meet_url=consultation_url,
            )
        )
    return answer


async def my_entries(*, session: AsyncSession, actor: Actor) -> list[tuple[State, QueueEntry]]:
    """The patient's places in today's queues (yesterday's and tomorrow's dates are looked
    at too, as "today" is each doctor's own), newest first."""
    today = clock.now().date()
    entries = list(
        await session.scalars(
            select(QueueEntry)
            .where(
                QueueEntry.patient_id == actor.id,
                QueueEntry.day.between(today - timedelta(days=1), today + timedelta(days=1)),
            )
            .order_by(QueueEntry.joined_at.desc())
        )
    )
    answer: list[tuple[State, QueueEntry]] = []
    states: dict[uuid.UUID, State] = {}
    for entry in entries:
        if entry.queue_id not in states:
            queue = await session.get(Queue, entry.queue_id)
            assert queue is not None
            if queue.day != await doctor_today(
                session, await identity.get_doctor(session, queue.doctor_id)
            ):
                continue
            states[entry.queue_id] = await state(session, queue)
        answer.append((states[entry.queue_id], entry))
    return answer


async def board(session: AsyncSession) -> list[schemas.BoardRowOut]:
    """Every active doctor's queue of their today, for the waiting-room screen: numbers and
    the doctor's name only."""
    answer = []
    for doctor in await identity.search_doctors(session):
        queue = await _get_queue(session, doctor.id, await doctor_today(session, doctor))
        if queue is None:
            continue
        current = await state(session, queue)
        answer.append(
            schemas.BoardRowOut(
                doctor_id=doctor.id,
                doctor_name=doctor.name,
                date=queue.day,
                revision=queue.revision,
                serving_token=queue.serving_token,
                waiting_count=current.waiting_count,
                paused=queue.paused,
                doctor_away=queue.doctor_away,
            )
        )
    return answer


def queue_out(
    current: State, entries: Sequence[QueueEntry], names: dict[uuid.UUID, str]
) -> schemas.QueueOut:
    """The queue's answer shape: its public state and the entries given, named from `names`."""
    return schemas.QueueOut(
        **current.public(), entries=[current.entry(e, names.get(e.patient_id)) for e in entries]
    )


async def can_follow(session: AsyncSession, actor: Actor, doctor_id: uuid.UUID, day: date) -> bool:
    """Staff of the queue, or a patient who holds (or held) a place in it."""
    if access.sees_whole_queue(actor, doctor_id):
        return True
    held = await session.scalar(
        select(QueueEntry.id)
        .where(
            QueueEntry.doctor_id == doctor_id,
            QueueEntry.day == day,
            QueueEntry.patient_id == actor.id,
        )
        .limit(1)
    )
    return held is not None


async def snapshot_for(
    session: AsyncSession, actor: Actor, doctor_id: uuid.UUID, day: date
) -> dict[str, Any]:
    """What a follower sees on (re)subscribing: the public state, with the whole list for
    staff and the patient's own places (token, position, estimate) for a patient."""
    queue = await _get_queue(session, doctor_id, day)
    if queue is None:
        current = await _not_opened(session, doctor_id, day)
        entries: list[QueueEntry] = []
    else:
        current = await state(session, queue)
        query = select(QueueEntry).where(QueueEntry.queue_id == queue.id)
        if not access.sees_whole_queue(actor, doctor_id):
            query = query.where(QueueEntry.patient_id == actor.id)
        entries = list(await session.scalars(query.order_by(QueueEntry.token)))
    names = await identity.names(session, {e.patient_id for e in entries})
    data = current.public()
    staff = access.sees_whole_queue(actor, doctor_id)
    data["entries"] = [
        current.entry(e, names.get(e.patient_id) if staff else None).model_dump(mode="json")
        for e in entries
    ]
    return data


async def reassignments(
    *, session: AsyncSession, actor: Actor, entry_id: uuid.UUID
) -> list[Reassignment]:
    """Every new token this visit was given, oldest first (across the chain of entries)."""
    entry = await access.get_entry_for(session, actor, entry_id)
    query = select(Reassignment).join(QueueEntry, Reassignment.new_entry_id == QueueEntry.id)
    if entry.appointment_id is not None:
        query = query.where(Reassignment.appointment_id == entry.appointment_id)
    else:
        query = query.where(
            Reassignment.patient_id == entry.patient_id,
            QueueEntry.queue_id == entry.queue_id,
        )
    return list(await session.scalars(query.order_by(Reassignment.at)))


# --- the doctor's controls -------------------------------------------------------------------


async def _today_queue_for_update(
    session: AsyncSession, actor: Actor, doctor_id: uuid.UUID
) -> Queue:
    access.require_queue_doctor(actor, doctor_id)
    doctor = await identity.get_doctor(session, doctor_id)
    queue = await _open_queue(session, doctor_id, await doctor_today(session, doctor))
    await _lock(session, queue)
    return queue


async def _locked_entry(
    session: AsyncSession, actor: Actor, entry_id: uuid.UUID
) -> tuple[Queue, QueueEntry]:
    """The entry and its queue, the queue's row taken first (the one lock order)."""
    entry = await access.get_entry_for(session, actor, entry_id)
    queue = await session.get(Queue, entry.queue_id)
    assert queue is not None
    await _lock(session, queue)
    await session.refresh(entry)
    return queue, entry


def _require(entry: QueueEntry, *allowed: EntryStatus, to: str) -> None:
    if entry.status not in allowed:
        raise _conflict(
            ErrorCode.invalid_transition,
            _("This patient's place cannot make that change now."),
            status=entry.status.value,
            to=to,
        )


async def _in_consultation(session: AsyncSession, queue: Queue) -> QueueEntry | None:
    found: QueueEntry | None = await session.scalar(
        select(QueueEntry).where(
            QueueEntry.queue_id == queue.id, QueueEntry.status == E.in_consultation
        )
    )
    return found


async def _call(
    session: AsyncSession, actor: Actor, queue: Queue, entry: QueueEntry, action: str
) -> None:
    """Make `entry` the patient in consultation, remembering how to undo it."""
    busy = await _in_consultation(session, queue)
    if busy is not None and busy.id != entry.id:
        raise _conflict(
            ErrorCode.doctor_busy,
            _("Finish the current patient first."),
            entry_id=str(busy.id),
            token=busy.token,
        )
    appointment = (
        await session.get(Appointment, entry.appointment_id) if entry.appointment_id else None
    )
    if entry.online and appointment is not None:
        doctor = await identity.get_doctor(session, queue.doctor_id)
        meet_url = doctor.doctor.meet_url if doctor.doctor else None
        if not meet_url:
            raise _conflict(
                ErrorCode.meet_link_required,
                _("Set your meeting link before calling an online patient."),
            )
        consultation = await consultations.open_for_visit(
            session=session, actor=actor, appointment=appointment, meet_url=meet_url
        )
        entry.consultation_id = consultation.id
    now = clock.now()
    queue.last_action = {
        "action": action,
        "entry_id": str(entry.id),
        "at": now.isoformat(),
        "status": entry.status.value,
        "called_at": entry.called_at.isoformat() if entry.called_at else None,
        "serving_token": queue.serving_token,
        "appointment_status": appointment.status.value if appointment else None,
    }
    entry.status = E.in_consultation
    entry.called_at = now
    entry.skipped_at = None
    queue.serving_token = entry.token
    if appointment is not None:
        appointment.status = AppointmentStatus.in_consultation
    await notifications.about_entry(session, kind=Kind.queue_turn, entry=entry)


async def call_next(
    *, session: AsyncSession, actor: Actor, doctor_id: uuid.UUID, client_ip: str | None = None
) -> tuple[State, QueueEntry]:
    queue = await _today_queue_for_update(session, actor, doctor_id)
    if queue.paused:
        raise _conflict(ErrorCode.queue_paused, _("The queue is paused. Resume it first."))
    current = await state(session, queue)
    if not current.ordered:
        raise _conflict(ErrorCode.queue_empty, _("Nobody is waiting."))
    entry = await session.get_one(QueueEntry, current.ordered[0].id)
    await _call(session, actor, queue, entry, "call")
    await audit.record(
        session,
        action="queue.call",
        resource_type="queue_entry",
        resource_id=entry.id,
        actor=actor,
        ip=client_ip,
        details={"token": entry.token},
    )
    return await _announce(session, queue, [entry]), entry


async def recall(
    *, session: AsyncSession, actor: Actor, entry_id: uuid.UUID, client_ip: str | None = None
) -> tuple[State, QueueEntry]:
    """Call again a patient who was called (tell them once more) or skipped."""
    queue, entry = await _locked_entry(session, actor, entry_id)
    access.require_queue_doctor(actor, entry.doctor_id)
    _require(entry, E.in_consultation, E.skipped, E.no_show, to="recall")
    if entry.status is not E.in_consultation:
        await _call(session, actor, queue, entry, "recall")
    await audit.record(
        session,
        action="queue.recall",
        resource_type="queue_entry",
        resource_id=entry.id,
        actor=actor,
        ip=client_ip,
        details={"token": entry.token},
    )
    return await _announce(session, queue, [entry], recalled=entry), entry


async def finish(
    *, session: AsyncSession, actor: Actor, entry_id: uuid.UUID, client_ip: str | None = None
) -> tuple[State, QueueEntry]:
    """End the visit: the consultation ends, the appointment is completed, and its length
    counts towards the doctor's average."""
    queue, entry = await _locked_entry(session, actor, entry_id)
    access.require_queue_doctor(actor, entry.doctor_id)
    _require(entry, E.in_consultation, to=E.completed.value)
    now = clock.now()
    entry.status = E.completed
    entry.finished_at = now
    entry.duration_seconds = max(0, int((now - (entry.called_at or now)).total_seconds()))
    if entry.appointment_id is not None:
        appointment = await session.get(Appointment, entry.appointment_id)
        if appointment is not None:
            appointment.status = AppointmentStatus.completed
    if entry.consultation_id is not None:
        await consultations.end_if_open(
            session=session, actor=actor, consultation_id=entry.consultation_id
        )
    queue.last_action = None
    await audit.record(
        session,
        action="queue.finish",
        resource_type="queue_entry",
        resource_id=entry.id,
        actor=actor,
        ip=client_ip,
        details={"token": entry.token, "duration_seconds": entry.duration_seconds},
    )
    return await _announce(session, queue, [entry]), entry


async def no_show(
    *, session: AsyncSession, actor: Actor, entry_id: uuid.UUID, client_ip: str | None = None
) -> tuple[State, QueueEntry]:
    """Skip a patient who is not there: their place is kept for the grace period, after
    which they are a no-show (`expire_skipped`)."""
    queue, entry = await _locked_entry(session, actor, entry_id)
    access.require_queue_doctor(actor, entry.doctor_id)
    _require(entry, E.waiting, E.in_consultation, to=E.skipped.value)
    now = clock.now()
    queue.last_action = {
        "action": "no_show",
        "entry_id": str(entry.id),
        "at": now.isoformat(),
        "status": entry.status.value,
        "called_at": entry.called_at.isoformat() if entry.called_at else None,
        "serving_token": queue.serving_token,
        "appointment_status": None,
    }
    entry.status = E.skipped
    entry.skipped_at = now
    await notifications.about_entry(session, kind=Kind.queue_missed, entry=entry)
    await audit.record(
        session,
        action="queue.no_show",
        resource_type="queue_entry",
        resource_id=entry.id,
        actor=actor,
        ip=client_ip,
        details={"token": entry.token},
    )
    return await _announce(session, queue, [entry]), entry


async def undo(
    *, session: AsyncSession, actor: Actor, doctor_id: uuid.UUID, client_ip: str | None = None
) -> tuple[State, QueueEntry]:
    """Take back the last call or no-show, within `UNDO_SECONDS` of it."""
    queue = await _today_queue_for_update(session, actor, doctor_id)
    last = queue.last_action
    if not last or clock.now() - datetime.fromisoformat(last["at"]) > timedelta(
        seconds=UNDO_SECONDS
    ):
        raise _conflict(ErrorCode.nothing_to_undo, _("There is nothing to undo any more."))
    entry = await session.get(QueueEntry, uuid.UUID(last["entry_id"]))
    assert entry is not None
    entry.status = EntryStatus(last["status"])
    entry.called_at = datetime.fromisoformat(last["called_at"]) if last["called_at"] else None
    if entry.status is not E.skipped:
        entry.skipped_at = None
    queue.serving_token = last["serving_token"]
    if last["appointment_status"] and entry.appointment_id is not None:
        appointment = await session.get(Appointment, entry.appointment_id)
        if appointment is not None:
            appointment.status = AppointmentStatus(last["appointment_status"])
    queue.last_action = None
    await audit.record(
        session,
        action=f"queue.undo_{last['action']}",
        resource_type="queue_entry",
        resource_id=entry.id,
        actor=actor,
        ip=client_ip,
        details={"token": entry.token},
    )
    return await _announce(session, queue, [entry]), entry


async def set_paused(
    *, session: AsyncSession, actor: Actor, doctor_id: uuid.UUID, paused: bool
) -> State:
    queue = await _today_queue_for_update(session, actor, doctor_id)
    queue.paused = paused
    return await _announce(session, queue)


# --- missed turns ----------------------------------------------------------------------------


async def _take_place_back(
    session: AsyncSession, actor: Actor, entry: QueueEntry
) -> QueueEntry | None:
    """A skipped patient who turns up before the grace period ends takes their place back.
    If it has ended (and the worker has not yet said so) the entry becomes a no-show now,
    and None is answered."""
    queue, entry = await _locked_entry(session, actor, entry.id)
    _row, rules = await current_rules(session)
    if _grace_over(entry, rules):
        await _mark_no_show(session, entry)
        await _announce(session, queue, [entry])
        return None
    entry.status = E.waiting
    entry.skipped_at = None
    await _announce(session, queue, [entry])
    return entry


def _grace_over(entry: QueueEntry, rules: priority.Rules) -> bool:
    grace = timedelta(minutes=rules.no_show_grace_minutes)
    return entry.skipped_at is not None and clock.now() - entry.skipped_at >= grace


async def _mark_no_show(session: AsyncSession, entry: QueueEntry) -> None:
    entry.status = E.no_show
    if entry.appointment_id is not None:
        appointment = await session.get(Appointment, entry.appointment_id)
        if appointment is not None:
            appointment.status = AppointmentStatus.no_show


async def requeue(
    *,
    session: AsyncSession,
    actor: Actor,
    entry_id: uuid.UUID,
    reason: str | None = None,
    client_ip: str | None = None,
) -> QueueEntry:
    """A patient who missed their turn asks for a new token: within the grace period they
    simply get their place back; after it, a new token at the end of the same day's queue,
    written into the visit's history."""
    entry = await access.get_entry_for(session, actor, entry_id)
    if not (actor.id == entry.patient_id or access.is_front_desk(actor)):
        raise AppError(ErrorCode.forbidden, _("Only the patient or the front desk can do this."))
    if entry.status is E.skipped:
        back = await _take_place_back(session, actor, entry)
        if back is not None:
            return back
    _require(entry, E.no_show, to="requeue")
    queue = await session.get(Queue, entry.queue_id)
    assert queue is not None
    doctor = await identity.get_doctor(session, entry.doctor_id)
    if queue.day != await doctor_today(session, doctor):
        raise _conflict(
            ErrorCode.check_in_not_open, _("A new token is only given on the same day.")
        )
    now = clock.now()
    try:
        async with session.begin_nested():
            token = await _lock(session, queue, new_token=True)
            new = QueueEntry(
                id=uuid.uuid4(),
                queue_id=queue.id,
                doctor_id=entry.doctor_id,
                day=entry.day,
                patient_id=entry.patient_id,
                appointment_id=entry.appointment_id,
                appointment_starts_at=entry.appointment_starts_at,
                online=entry.online,
                consultation_id=entry.consultation_id,
                token=token,
                status=E.waiting,
                severity=entry.severity,
                patient_type=entry.patient_type,
                source=EntrySource.requeue,
                joined_at=now,
            )
            session.add(new)
            await session.flush()
    except IntegrityError:
        raise _already_in_queue() from None
    why = (reason or "").strip()[:200] or "missed turn"
    session.add(
        Reassignment(
            id=uuid.uuid4(),
            patient_id=entry.patient_id,
            appointment_id=entry.appointment_id,
            old_entry_id=entry.id,
            new_entry_id=new.id,
            old_token=entry.token,
            new_token=new.token,
            reason=why,
            at=now,
        )
    )
    if entry.appointment_id is not None:
        appointment = await session.get(Appointment, entry.appointment_id)
        if appointment is not None:
            appointment.status = AppointmentStatus.checked_in
            appointment.late_arrivals += 1
    await audit.record(
        session,
        action="queue.requeue",
        resource_type="queue_entry",
        resource_id=new.id,
        actor=actor,
        ip=client_ip,
        details={"old_token": entry.token, "new_token": new.token, "reason": why},
    )
    await notifications.about_entry(session, kind=Kind.queue_new_token, entry=new)
    await _announce(session, queue, [new])
    return new


async def expire_skipped(*, session: AsyncSession) -> int:
    """Skipped patients whose grace period has run out become no-shows (their appointment
    too); answers how many. Run by the worker."""
    _row, rules = await current_rules(session)
    cutoff = clock.now() - timedelta(minutes=rules.no_show_grace_minutes)
    expired = list(
        await session.scalars(
            select(QueueEntry)
            .where(QueueEntry.status == E.skipped, QueueEntry.skipped_at <= cutoff)
            .order_by(QueueEntry.queue_id)
        )
    )
    by_queue: dict[uuid.UUID, list[QueueEntry]] = {}
    for entry in expired:
        by_queue.setdefault(entry.queue_id, []).append(entry)
    for queue_id, entries in by_queue.items():
        queue = await session.get(Queue, queue_id)
        assert queue is not None
        await _lock(session, queue)
        changed = []
        for entry in entries:
            await session.refresh(entry)
            if entry.status is E.skipped:
                await _mark_no_show(session, entry)
                changed.append(entry)
        await _announce(session, queue, changed)
    return len(expired)


# --- the patient's side ----------------------------------------------------------------------


async def ready(*, session: AsyncSession, actor: Actor, entry_id: uuid.UUID) -> QueueEntry:
    """An online patient says they are at their screen; the doctor sees who is ready."""
    queue, entry = await _locked_entry(session, actor, entry_id)
    if actor.id != entry.patient_id:
        raise AppError(ErrorCode.forbidden, _("Only the patient can say they are ready."))
    _require(entry, E.waiting, E.in_consultation, to="ready")
    if entry.ready_at is None:
        entry.ready_at = clock.now()
    await _announce(session, queue, [entry])
    return entry


# --- by hand ---------------------------------------------------------------------------------


async def move(
    *,
    session: AsyncSession,
    actor: Actor,
    entry_id: uuid.UUID,
    before_entry_id: uuid.UUID,
    reason: str,
    client_ip: str | None = None,
) -> tuple[State, QueueEntry]:
    """Put a waiting patient just before another, with a reason for the audit trail."""
    queue, entry = await _locked_entry(session, actor, entry_id)
    access.require_queue_staff(actor, entry.doctor_id)
    target = await session.get(QueueEntry, before_entry_id)
    if target is None or target.queue_id != queue.id or target.id == entry.id:
        raise AppError(
            ErrorCode.validation_error,
            _("Choose another patient waiting in the same queue."),
            {"field": "before_entry_id"},
        )
    _require(entry, E.waiting, to="move")
    _require(target, E.waiting, to="move")
    # Break a circle: if the target was put (directly or through others) before this
    # entry, the one pinned to it now goes just after it instead, as this move asks.
    current = await state(session, queue)
    cursor: QueueEntry | None = target
    seen = {entry.id}
    while cursor is not None and cursor.pinned_before_id is not None:
        if cursor.pinned_before_id == entry.id:
            after = current.ordered[current.positions[entry.id] + 1 :]
            following = next((e for e in after if e.id != cursor.id), None)
            cursor.pinned_before_id = following.id if following else None
            break
        if cursor.id in seen:
            break
        seen.add(cursor.id)
        cursor = await session.get(QueueEntry, cursor.pinned_before_id)
    entry.pinned_before_id = target.id
    entry.pinned_at = clock.now()
    await audit.record(
        session,
        action="queue.move",
        resource_type="queue_entry",
        resource_id=entry.id,
        actor=actor,
        ip=client_ip,
        details={"before_entry_id": str(target.id), "token": entry.token, "reason": reason},
    )
    return await _announce(session, queue, [entry]), entry


# --- the doctor's meeting link ---------------------------------------------------------------


async def set_meet_link(
    *,
    session: AsyncSession,
    actor: Actor,
    doctor_id: uuid.UUID,
    meet_url: str | None,
    client_ip: str | None = None,
) -> list[QueueEntry]:
    """Change the doctor's link; during a session the next waiting patients are told the
    new one. Answers the entries told."""
    access.require_meet_link_editor(actor, doctor_id)
    doctor = await identity.get_doctor(session, doctor_id)
    assert doctor.doctor is not None
    if doctor.doctor.meet_url == meet_url:
        return []
    doctor.doctor.meet_url = meet_url
    await audit.record(
        session,
        action="doctor.meet_link_changed",
        resource_type="user",
        resource_id=doctor_id,
        actor=actor,
        ip=client_ip,
    )
    queue = await _get_queue(session, doctor_id, await doctor_today(session, doctor))
    if queue is None or meet_url is None:
        return []
    told = await _entries_of(session, (await state(session, queue)).ordered[:MEET_LINK_TOLD])
    for entry in told:
        realtime.publish_on_commit(
            session,
            realtime.Event(
                topic=f"user:{entry.patient_id}",
                type="queue.meet_link",
                data={"doctor_id": str(doctor_id), "meet_url": meet_url, "entry_id": str(entry.id)},
            ),
        )
        await notifications.about_entry(session, kind=Kind.meeting_link, entry=entry, link=meet_url)
    return told


# --- the doctor's presence -------------------------------------------------------------------


async def mark_doctors_away(
    *, session: AsyncSession, present: set[tuple[uuid.UUID, date]], away_after: timedelta
) -> int:
    """Queues with patients waiting whose doctor has had no socket on them for
    `away_after` are shown as "doctor away", and back when the doctor returns. `present`
    is the (doctor, day) pairs whose doctor is connected now. Answers how many changed."""
    now = clock.now()
    waiting_queues = select(QueueEntry.queue_id).where(QueueEntry.status == E.waiting)
    queues = list(
        await session.scalars(
            select(Queue).where(
                Queue.day.between(now.date() - timedelta(days=1), now.date() + timedelta(days=1)),
                Queue.id.in_(waiting_queues) | Queue.doctor_away.is_(True),
            )
        )
    )
    changed = 0
    for queue in queues:
        if (queue.doctor_id, queue.day) in present:
            queue.doctor_absent_since = None
            away = False
        else:
            queue.doctor_absent_since = queue.doctor_absent_since or now
            away = now - queue.doctor_absent_since >= away_after
        if away != queue.doctor_away:
            await _show_away(session, queue, away)
            changed += 1
    return changed


async def doctor_arrived(*, session: AsyncSession, doctor_id: uuid.UUID, day: date) -> None:
    """The doctor has just opened their queue for `day`: waiting patients see them back at
    once, not at the next sweep of `mark_doctors_away` (up to 15 s later), and the doctor's
    own page does not open on "doctor away"."""
    queue = await _get_queue(session, doctor_id, day)
    if queue is None or (queue.doctor_absent_since is None and not queue.doctor_away):
        return
    queue.doctor_absent_since = None
    if queue.doctor_away:
        await _show_away(session, queue, False)


async def _show_away(session: AsyncSession, queue: Queue, away: bool) -> None:
    """Show the queue's doctor as away (telling the waiting patients) or back."""
    await _lock(session, queue)
    queue.doctor_away = away
    current = await _announce(session, queue)
    if away:
        await notifications.about_entries(
            session, kind=Kind.doctor_away, entries=await _entries_of(session, current.ordered)
        )
