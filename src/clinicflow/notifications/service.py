"""The one way to tell a person something.

`notify` writes the notification and one delivery row per channel in the caller's
transaction: the notifications table is the outbox, so a change and the promise to tell
someone about it commit together, and a crash afterwards loses nothing because the
dispatcher (`jobs.py`) finds the pending rows in the database. The in-app copy needs no
dispatcher: it is the row itself, announced on `user:<id>` once the transaction commits.

`send` remains for the sign-in code, which must go out at once and is never stored (it
holds a secret): it hands the text to the process's sender after the commit.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import realtime
from clinicflow.config import Settings
from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.db import after_commit
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.notifications import access, schemas
from clinicflow.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Kind,
    Notification,
    Preference,
    Priority,
    PushSubscription,
)
from clinicflow.notifications.templates import ALL_CHANNELS, TEMPLATES

log = structlog.get_logger(__name__)

__all__ = ["Channel", "Kind", "Priority"]

MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 3600.0
LIST_LIMIT = 50


@dataclass(frozen=True)
class SentMessage:
    to: str
    channel: Channel
    body: str
    sent_at: datetime

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["channel"] = self.channel.value
        data["sent_at"] = self.sent_at.isoformat()
        return data


class Sender(Protocol):
    async def deliver(self, *, to: str, channel: Channel, body: str) -> None: ...


class DevOutbox:
    """Keeps the newest messages in memory, for a developer (or a test) to read."""

    def __init__(self, size: int) -> None:
        self._messages: deque[SentMessage] = deque(maxlen=size)

    async def deliver(self, *, to: str, channel: Channel, body: str) -> None:
        self._messages.append(SentMessage(to=to, channel=channel, body=body, sent_at=clock.now()))

    def messages(self) -> list[SentMessage]:
        """Newest first."""
        return list(reversed(self._messages))


class LogOnlySender:
    async def deliver(self, *, to: str, channel: Channel, body: str) -> None:
        log.warning("notification.no_channel", channel=channel.value, to=mask(to))


def mask(address: str) -> str:
    return address[:4] + "…" + address[-2:] if len(address) > 6 else "…"


SENDER_KEY = "clinicflow.notifications.sender"
ALLOWED_KEY = "clinicflow.notifications.allowed"


def session_info(sender: Sender, allowed: Iterable[Channel] = ALL_CHANNELS) -> dict[str, Any]:
    """What the runtime puts into every session's `info`: the process's sender and the
    channels the clinic has switched on, so services need neither a global nor an extra
    argument through every call."""
    return {SENDER_KEY: sender, ALLOWED_KEY: frozenset(allowed)}


async def send(session: AsyncSession, *, to: str, channel: Channel, body: str) -> None:
    sender: Sender = session.info[SENDER_KEY]

    async def deliver() -> None:
        await sender.deliver(to=to, channel=channel, body=body)

    after_commit(session, deliver)


def _allowed(session: AsyncSession) -> frozenset[Channel]:
    allowed: frozenset[Channel] = session.info.get(ALLOWED_KEY, frozenset(ALL_CHANNELS))
    return allowed | {Channel.in_app}


def user_topic(user_id: uuid.UUID) -> str:
    return f"user:{user_id}"


# --- writing notifications --------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    id: uuid.UUID
    language: str
    addresses: Mapping[Channel, str | None]


async def _recipient(session: AsyncSession, user_id: uuid.UUID) -> Recipient | None:
    found = await identity.users(session, [user_id])
    if not found or not found[0].is_active:
        return None
    user = found[0]
    language = user.patient.preferred_language.value if user.patient else "en"
    has_push = await session.scalar(
        select(func.count())
        .select_from(PushSubscription)
        .where(PushSubscription.user_id == user.id)
    )
    addresses: dict[Channel, str | None] = {Channel.in_app: None}
    if user.phone:
        addresses[Channel.sms] = user.phone
    if user.email:
        addresses[Channel.email] = user.email
    if has_push:
        addresses[Channel.push] = None
    return Recipient(id=user.id, language=language, addresses=addresses)


def effective_channels(
    kind: Kind,
    *,
    chosen: Sequence[str] | None,
    allowed: Iterable[Channel],
    available: Iterable[Channel],
) -> list[Channel]:
    """Where one notification goes: the person's choice (or the type's defaults) within what
    the clinic allows and what the person has; an urgent type goes everywhere they have."""
    template = TEMPLATES[kind]
    possible = set(allowed) & set(available)
    if template.priority is Priority.urgent:
        wanted: Iterable[Channel] = ALL_CHANNELS
    elif chosen is not None:
        wanted = [Channel(value) for value in chosen if value in Channel.__members__]
    else:
        wanted = template.defaults
    return [channel for channel in ALL_CHANNELS if channel in possible and channel in wanted]


async def notify(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    kind: Kind,
    values: Mapping[str, str] | None = None,
    appointment_id: uuid.UUID | None = None,
    consultation_id: uuid.UUID | None = None,
    dedupe_key: str | None = None,
) -> Notification | None:
    """Tell `user_id` about something in this transaction; None if they cannot be told
    (deactivated) or were already told (`dedupe_key`)."""
    if dedupe_key is not None and await session.scalar(
        select(Notification.id).where(Notification.dedupe_key == dedupe_key)
    ):
        return None
    recipient = await _recipient(session, user_id)
    if recipient is None:
        return None
    template = TEMPLATES[kind]
    title, body = template.render(recipient.language, values or {})
    chosen = await session.scalar(
        select(Preference.channels).where(Preference.user_id == user_id, Preference.kind == kind)
    )
    channels = effective_channels(
        kind, chosen=chosen, allowed=_allowed(session), available=recipient.addresses
    )
    now = clock.now()
    notification = Notification(
        id=uuid.uuid4(),
        user_id=user_id,
        kind=kind,
        priority=template.priority,
        language=recipient.language,
        title=title[:200],
        body=body,
        appointment_id=appointment_id,
        consultation_id=consultation_id,
        dedupe_key=dedupe_key,
        created_at=now,
    )
    session.add(notification)
    # The deliveries refer to the row, and the two tables have no relationship to order the
    # inserts by: the notification goes first.
    await session.flush()
    for channel in channels:
        in_app = channel is Channel.in_app
        session.add(
            Delivery(
                notification_id=notification.id,
                channel=channel,
                address=recipient.addresses[channel],
                status=DeliveryStatus.sent if in_app else DeliveryStatus.pending,
                attempts=1 if in_app else 0,
                sent_at=now if in_app else None,
                next_attempt_at=None if in_app else now,
                created_at=now,
            )
        )
    await session.flush()
    if Channel.in_app in channels:
        unread = await unread_count(session, user_id)
        out = schemas.NotificationOut.model_validate(notification).model_dump(mode="json")
        realtime.publish_on_commit(
            session,
            realtime.Event(
                topic=user_topic(user_id),
                type="notification.created",
                data={"notification": out, "unread_count": unread},
            ),
        )
    return notification


class AppointmentLike(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def patient_id(self) -> uuid.UUID: ...
    @property
    def doctor_id(self) -> uuid.UUID: ...
    @property
    def starts_at(self) -> datetime: ...


class ConsultationLike(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def patient_id(self) -> uuid.UUID: ...
    @property
    def doctor_id(self) -> uuid.UUID: ...


async def _doctor(session: AsyncSession, doctor_id: uuid.UUID) -> tuple[str, str]:
    found = await identity.users(session, [doctor_id])
    if not found:
        return "", "UTC"
    doctor = found[0]
    return doctor.name, doctor.doctor.timezone if doctor.doctor else "UTC"


async def about_appointment(
    session: AsyncSession,
    *,
    kind: Kind,
    appointment: AppointmentLike,
    dedupe_key: str | None = None,
) -> Notification | None:
    """A booking's notification, with the time in the doctor's own zone (the clinic's)."""
    name, zone = await _doctor(session, appointment.doctor_id)
    when = appointment.starts_at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    return await notify(
        session,
        user_id=appointment.patient_id,
        kind=kind,
        values={"doctor": name, "when": when},
        appointment_id=appointment.id,
        dedupe_key=dedupe_key,
    )


class EntryLike(Protocol):
    """A place in a queue, as the queue domain holds it."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def patient_id(self) -> uuid.UUID: ...
    @property
    def doctor_id(self) -> uuid.UUID: ...
    @property
    def token(self) -> int: ...
    @property
    def appointment_id(self) -> uuid.UUID | None: ...


async def about_entry(
    session: AsyncSession,
    *,
    kind: Kind,
    entry: EntryLike,
    position: int | None = None,
    link: str | None = None,
    dedupe_key: str | None = None,
) -> Notification | None:
    """A queue notification to the patient holding `entry`."""
    name, _zone = await _doctor(session, entry.doctor_id)
    values = {
        "doctor": name,
        "token": str(entry.token),
        "position": str(position or ""),
        "link": link or "",
    }
    return await notify(
        session,
        user_id=entry.patient_id,
        kind=kind,
        values=values,
        appointment_id=entry.appointment_id,
        dedupe_key=dedupe_key,
    )


async def about_entries(session: AsyncSession, *, kind: Kind, entries: Sequence[EntryLike]) -> None:
    for entry in entries:
        await about_entry(session, kind=kind, entry=entry)


# Position milestones, most specific first: (type, the position it starts at).
MILESTONES = ((Kind.queue_next, 1), (Kind.queue_top3, 3), (Kind.queue_top10, 10))


async def queue_positions(session: AsyncSession, *, ordered: Sequence[EntryLike]) -> None:
    """Tell each waiting patient who has just reached a milestone (the first 10, the first
    3, next): the closest one reached, once per place in the queue, and never a farther one
    after a closer one (a patient moved back from 2nd to 5th is not told "first 10")."""
    head = ordered[: MILESTONES[-1][1]]
    keys = [f"{kind.value}:{entry.id}" for entry in head for kind, _starts in MILESTONES]
    told = set(
        await session.scalars(
            select(Notification.dedupe_key).where(Notification.dedupe_key.in_(keys))
        )
    )
    for position, entry in enumerate(head, start=1):
        kind, starts = next((k, s) for k, s in MILESTONES if position <= s)
        if any(f"{k.value}:{entry.id}" in told for k, s in MILESTONES if s <= starts):
            continue
        await about_entry(
            session,
            kind=kind,
            entry=entry,
            position=position,
            dedupe_key=f"{kind.value}:{entry.id}",
        )


CONSULTATION_EVENTS = {
    "accepted": Kind.consult_accepted,
    "declined": Kind.consult_declined,
    "ended": Kind.consult_ended,
}


async def about_consultation(
    session: AsyncSession, *, event: str, consultation: ConsultationLike
) -> Notification | None:
    """Tell the patient their consultation was accepted, declined or ended; other changes
    of its status are not news to them."""
    kind = CONSULTATION_EVENTS.get(event)
    if kind is None:
        return None
    name, _zone = await _doctor(session, consultation.doctor_id)
    return await notify(
        session,
        user_id=consultation.patient_id,
        kind=kind,
        values={"doctor": name},
        consultation_id=consultation.id,
    )


async def chat_messages(
    session: AsyncSession, *, sent: Mapping[uuid.UUID, tuple[ConsultationLike, uuid.UUID]]
) -> list[Notification]:
    """Doctors' messages, by consultation (consultation, sender), for patients who are not
    looking at the consultation (no socket of theirs on its presence topic): one who is
    reads them there and needs no notification. One presence look-up for them all: a
    batch of sends holds its consultations' rows while this runs."""
    waiting = {
        f"presence:{consultation.id}": (consultation, sender_id)
        for consultation, sender_id in sent.values()
        if sender_id != consultation.patient_id
    }
    if not waiting:
        return []
    present = await realtime.present_users_of(session, waiting)
    away = [
        (consultation, sender_id)
        for topic, (consultation, sender_id) in waiting.items()
        if str(consultation.patient_id) not in present[topic]
    ]
    names = await identity.names(session, {sender_id for _, sender_id in away})
    told = [
        await notify(
            session,
            user_id=consultation.patient_id,
            kind=Kind.chat_message,
            values={"sender": names.get(sender_id, "")},
            consultation_id=consultation.id,
        )
        for consultation, sender_id in away
    ]
    return [notification for notification in told if notification is not None]


# --- the bell -------------------------------------------------------------------------


async def unread_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    """The bell's number: unread notifications that are in the bell at all."""
    unread = _in_app(user_id).where(Notification.read_at.is_(None)).subquery()
    count = await session.scalar(select(func.count()).select_from(unread))
    return int(count or 0)


def _in_app(user_id: uuid.UUID) -> Select[Notification]:
    """A person's bell holds the notifications that had the in-app channel."""
    shown = select(Delivery.id).where(
        Delivery.notification_id == Notification.id, Delivery.channel == Channel.in_app
    )
    return select(Notification).where(Notification.user_id == user_id, shown.exists())


async def list_for(
    *, session: AsyncSession, actor: Actor, unread: bool | None = None, limit: int = LIST_LIMIT
) -> tuple[list[Notification], int]:
    """Newest first, with the unread count for the bell."""
    query = _in_app(actor.id)
    if unread is True:
        query = query.where(Notification.read_at.is_(None))
    elif unread is False:
        query = query.where(Notification.read_at.is_not(None))
    rows = await session.scalars(
        query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    )
    return list(rows), await unread_count(session, actor.id)


def _announce_read(session: AsyncSession, user_id: uuid.UUID, unread: int) -> None:
    """Every open tab of the person updates its bell."""
    realtime.publish_on_commit(
        session,
        realtime.Event(
            topic=user_topic(user_id), type="notification.read", data={"unread_count": unread}
        ),
    )


async def mark_read(
    *, session: AsyncSession, actor: Actor, notification_id: uuid.UUID
) -> tuple[Notification, int]:
    notification = await access.get_notification_for(session, actor, notification_id)
    if notification.read_at is None:
        notification.read_at = clock.now()
        await session.flush()
    unread = await unread_count(session, actor.id)
    _announce_read(session, actor.id, unread)
    return notification, unread


async def mark_all_read(*, session: AsyncSession, actor: Actor) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
    )
    _announce_read(session, actor.id, 0)
    return int(getattr(result, "rowcount", 0) or 0)


# --- preferences ------------------------------------------------------------------------


@dataclass
class Preferences:
    allowed: list[Channel]
    available: list[Channel]
    types: list[schemas.TypePreferenceOut] = field(default_factory=list)


async def preferences(*, session: AsyncSession, actor: Actor) -> Preferences:
    recipient = await _recipient(session, actor.id)
    available = list(recipient.addresses) if recipient else [Channel.in_app]
    allowed = [channel for channel in ALL_CHANNELS if channel in _allowed(session)]
    chosen = {
        row.kind: row.channels
        for row in await session.scalars(select(Preference).where(Preference.user_id == actor.id))
    }
    result = Preferences(allowed=allowed, available=[c for c in ALL_CHANNELS if c in available])
    for kind, template in TEMPLATES.items():
        channels = effective_channels(
            kind, chosen=chosen.get(kind), allowed=allowed, available=ALL_CHANNELS
        )
        result.types.append(
            schemas.TypePreferenceOut(
                type=kind,
                priority=template.priority,
                channels=channels,
                defaults=[c for c in template.defaults if c in allowed],
                chosen=kind in chosen,
            )
        )
    return result


async def set_preferences(
    *, session: AsyncSession, actor: Actor, choices: Mapping[Kind, Sequence[Channel]]
) -> Preferences:
    """Store each type's channels; a channel the clinic has switched off is refused rather
    than silently dropped, so a person never believes they chose something they did not."""
    allowed = _allowed(session)
    refused = sorted({c.value for chosen in choices.values() for c in chosen if c not in allowed})
    if refused:
        raise AppError(
            ErrorCode.channel_not_allowed,
            _("The clinic does not send notifications by: {channels}.").format(
                channels=", ".join(refused)
            ),
            {"channels": refused},
        )
    for kind, chosen in choices.items():
        row = await session.get(Preference, (actor.id, kind))
        values = [c.value for c in ALL_CHANNELS if c in set(chosen)]
        if row is None:
            session.add(Preference(user_id=actor.id, kind=kind, channels=values))
        else:
            row.channels = values
    await session.flush()
    return await preferences(session=session, actor=actor)


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def push_service_allowed(endpoint: str, hosts: Collection[str]) -> bool:
    """Whether the worker may post to this endpoint: https to a listed push service (or a
    subdomain of a listed `.suffix`), or a listed loopback host."""
    try:
        url = urlsplit(endpoint)
    except ValueError:  # not an address at all, such as an unclosed IPv6 "["
        return False
    host = (url.hostname or "").lower()
    listed = any(
        host.endswith(entry.lower()) if entry.startswith(".") else host == entry.lower()
        for entry in hosts
    )
    return listed and (url.scheme == "https" or host in LOOPBACK_HOSTS)


async def add_push_subscription(
    *,
    session: AsyncSession,
    actor: Actor,
    endpoint: str,
    p256dh: str,
    auth: str,
    allowed_hosts: Collection[str],
) -> PushSubscription:
    """Remember a browser's push endpoint; the same endpoint again replaces its keys and
    owner (a shared computer's browser follows whoever signed in last)."""
    if not push_service_allowed(endpoint, allowed_hosts):
        raise AppError(
            ErrorCode.validation_error,
            _("This browser's push service is not supported."),
            {"field": "endpoint"},
        )
    row = await session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint == endpoint)
    )
    if row is None:
        row = PushSubscription(user_id=actor.id, endpoint=endpoint, p256dh=p256dh, auth=auth)
        session.add(row)
    else:
        row.user_id, row.p256dh, row.auth = actor.id, p256dh, auth
    await session.flush()
    return row


# --- the admin's delivery log -----------------------------------------------------------


def delivery_out(delivery: Delivery, notification: Notification) -> schemas.DeliveryOut:
    return schemas.DeliveryOut(
        id=delivery.id,
        notification_id=notification.id,
        user_id=notification.user_id,
        type=notification.kind,
        channel=delivery.channel,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        provider_id=delivery.provider_id,
        error=delivery.error,
        sent_at=delivery.sent_at,
        created_at=delivery.created_at,
    )


async def deliveries(
    *,
    session: AsyncSession,
    actor: Actor,
    status: DeliveryStatus | None = None,
    channel: Channel | None = None,
    kind: Kind | None = None,
    limit: int = 100,
) -> list[schemas.DeliveryOut]:
    access.require_delivery_admin(actor)
    query = select(Delivery, Notification).join(
        Notification, Notification.id == Delivery.notification_id
    )
    if status is not None:
        query = query.where(Delivery.status == status)
    if channel is not None:
        query = query.where(Delivery.channel == channel)
    if kind is not None:
        query = query.where(Notification.kind == kind)
    rows = await session.execute(
        query.order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit)
    )
    return [delivery_out(delivery, notification) for delivery, notification in rows.all()]


async def retry_now(
    *, session: AsyncSession, actor: Actor, delivery_id: uuid.UUID
) -> schemas.DeliveryOut:
    """Give a delivery that gave up (or is waiting to retry) a fresh set of attempts, due now."""
    access.require_delivery_admin(actor)
    delivery = await access.get_delivery_for(session, actor, delivery_id)
    if delivery.status not in (DeliveryStatus.gave_up, DeliveryStatus.failed):
        raise AppError(
            ErrorCode.invalid_transition,
            _("Only a delivery that failed or gave up can be retried."),
            {"status": delivery.status.value},
        )
    delivery.status = DeliveryStatus.pending
    delivery.attempts = 0
    delivery.next_attempt_at = clock.now()
    await session.flush()
    notification = await session.get_one(Notification, delivery.notification_id)
    return delivery_out(delivery, notification)


# --- the dispatcher's side of the table ---------------------------------------------------


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 1 s, doubling, at most an
    hour, with "equal jitter" (between half and all of that) so that a provider that came
    back is not hit by every waiting message in the same second."""
    nominal = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    source = rng or random
    return timedelta(seconds=nominal / 2 + source.uniform(0, nominal / 2))


@dataclass(frozen=True)
class PushTarget:
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class Outgoing:
    """One claimed delivery, with everything a channel needs to send it."""

    delivery_id: uuid.UUID
    attempt: int
    channel: Channel
    address: str | None
    title: str
    body: str
    priority: Priority
    notification_id: uuid.UUID
    push: tuple[PushTarget, ...] = ()

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of this delivery, so a resend is recognised."""
        return str(self.delivery_id)


@dataclass(frozen=True)
class Outcome:
    delivery_id: uuid.UUID
    attempt: int
    provider_id: str | None = None
    error: str | None = None
    permanent: bool = False
    # Push endpoints the push service said are gone (404/410): nothing sent there arrives.
    gone: tuple[str, ...] = ()

    @property
    def sent(self) -> bool:
        return self.error is None


def _due(now: datetime) -> Any:
    return and_(
        Delivery.status.in_([DeliveryStatus.pending, DeliveryStatus.failed]),
        Delivery.next_attempt_at <= now,
    )


async def claim_due(*, session: AsyncSession, limit: int, lease_seconds: float) -> list[Outgoing]:
    """Take up to `limit` due deliveries for this worker.

    A claim counts the attempt and moves `next_attempt_at` a lease ahead, so no other worker
    takes the row while it is being sent; if this worker dies, the lease runs out and the
    row is due again. On PostgreSQL `SKIP LOCKED` lets several workers claim side by side;
    on SQLite the claim runs in a write transaction, which is already one at a time.
    """
    now = clock.now()
    await _give_up_unanswered(session, now)
    rows = list(
        await session.scalars(
            select(Delivery)
            .where(_due(now), Delivery.attempts < MAX_ATTEMPTS)
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not rows:
        return []
    lease_until = now + timedelta(seconds=lease_seconds)
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = lease_until
    await session.flush()
    notifications = {
        n.id: n
        for n in await session.scalars(
            select(Notification).where(Notification.id.in_({r.notification_id for r in rows}))
        )
    }
    push_users = {
        notifications[r.notification_id].user_id for r in rows if r.channel is Channel.push
    }
    targets: dict[uuid.UUID, list[PushTarget]] = {}
    if push_users:
        for sub in await session.scalars(
            select(PushSubscription).where(PushSubscription.user_id.in_(push_users))
        ):
            targets.setdefault(sub.user_id, []).append(
                PushTarget(sub.endpoint, sub.p256dh, sub.auth)
            )
    claimed = []
    for row in rows:
        notification = notifications[row.notification_id]
        claimed.append(
            Outgoing(
                delivery_id=row.id,
                attempt=row.attempts,
                channel=row.channel,
                address=row.address,
                title=notification.title,
                body=notification.body,
                priority=notification.priority,
                notification_id=notification.id,
                push=tuple(targets.get(notification.user_id, ())),
            )
        )
    return claimed


async def _give_up_unanswered(session: AsyncSession, now: datetime) -> None:
    """A row whose last allowed attempt never recorded an answer (its worker died) has
    nothing left to try: it gives up, visibly, instead of staying due for ever."""
    await session.execute(
        update(Delivery)
        .where(_due(now), Delivery.attempts >= MAX_ATTEMPTS)
        .values(status=DeliveryStatus.gave_up, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )


async def record(
    *, session: AsyncSession, outcomes: Sequence[Outcome], rng: random.Random | None = None
) -> None:
    """Store what the providers answered.

    A success is always kept (unless already kept): the message went out. A failure counts
    only if no later claim has taken the row since (its attempt number still matches),
    so a worker whose lease ran out cannot overwrite a newer attempt. Browsers the push
    service says are gone are forgotten, so later pushes do not try them again.
    """
    now = clock.now()
    gone = {endpoint for outcome in outcomes for endpoint in outcome.gone}
    if gone:
        await session.execute(delete(PushSubscription).where(PushSubscription.endpoint.in_(gone)))
    for outcome in outcomes:
        if outcome.sent:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == outcome.delivery_id, Delivery.status != DeliveryStatus.sent)
                .values(
                    status=DeliveryStatus.sent,
                    provider_id=outcome.provider_id,
                    sent_at=now,
                    next_attempt_at=None,
                    error=None,
                )
            )
            continue
        gave_up = outcome.permanent or outcome.attempt >= MAX_ATTEMPTS
        await session.execute(
            update(Delivery)
            .where(
                Delivery.id == outcome.delivery_id,
                Delivery.attempts == outcome.attempt,
                or_(
                    Delivery.status == DeliveryStatus.pending,
                    Delivery.status == DeliveryStatus.failed,
                ),
            )
            .values(
                status=DeliveryStatus.gave_up if gave_up else DeliveryStatus.failed,
                error=(outcome.error or "")[:2000],
                next_attempt_at=None if gave_up else now + retry_delay(outcome.attempt, rng),
            )
        )


def clinic_channels(settings: Settings) -> frozenset[Channel]:
    """The channels the clinic sends on: those it switched on, less push without its keys
    (a browser could not be reached, so nobody may choose it)."""
    channels = {
        Channel(value) for value in settings.notification_channels if value in Channel.__members__
    }
    if not (settings.vapid_private_key and settings.vapid_public_key):
        channels.discard(Channel.push)
    return frozenset(channels | {Channel.in_app})
