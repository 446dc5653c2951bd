"""The dispatcher's side of the table: claiming due deliveries, recording what the
providers answered, and the backoff between attempts.

Every status change here is a conditional UPDATE (or a `FOR UPDATE SKIP LOCKED` claim),
never a read-then-write, so workers side by side and a worker whose lease ran out cannot
overwrite each other; each moves only as `lifecycle.TRANSITIONS` allows. The dispatcher
itself (claim, send with no transaction open, record) is `jobs.Dispatcher`.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.notifications.models import (
    Attempt,
    Delivery,
    Notification,
    NotificationAttachment,
    PushSubscription,
)
from clinicflow.notifications.schemas import Attachment, Channel, DeliveryStatus, Priority
from clinicflow.notifications.service import fallover, lifecycle

FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 3600.0
RETRY_SPAN = timedelta(hours=24)
# Enough attempts that even the shortest waits (half of each nominal delay) add up to
# `RETRY_SPAN`: 1 s doubling to the hour cap takes 13 attempts (≥ 34 min), then at least
# 30 min each. A provider outage of a day is ridden out; the longest waits make it two.
MAX_ATTEMPTS = 60
# An urgent message that failed this many times on one channel is also sent on the
# person's other channels (`fallover.py`): about 4–7 s of outage, by the backoff above.
URGENT_FALLOVER_FAILURES = 3
# How much of a provider's answer one attempt keeps in the log.
ANSWER_KEPT = 500
DELIVERIES = cast(Table, Delivery.__table__)


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 1 s, doubling, at most an
    hour, with "equal jitter" (between half and all of that) so that a provider that came
    back is not hit by every waiting message in the same second. Over `MAX_ATTEMPTS` the
    waits span at least `RETRY_SPAN` (tests/notifications/test_outage.py)."""
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
    attachments: tuple[Attachment, ...] = ()

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
    # The provider's HTTP status when it answered a failure (None: not reached).
    status_code: int | None = None

    @property
    def sent(self) -> bool:
        return self.error is None


def _due(now: datetime) -> Any:
    return and_(Delivery.status.in_(lifecycle.DUE), Delivery.next_attempt_at <= now)


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
    files: dict[uuid.UUID, list[Attachment]] = {}
    mailed = {r.notification_id for r in rows if r.channel is Channel.email}
    if mailed:
        for file in await session.scalars(
            select(NotificationAttachment)
            .where(NotificationAttachment.notification_id.in_(mailed))
            .order_by(NotificationAttachment.filename)
        ):
            files.setdefault(file.notification_id, []).append(
                Attachment(file.filename, file.content_type, file.content)
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
                attachments=tuple(files.get(notification.id, ()))
                if row.channel is Channel.email
                else (),
            )
        )
    return claimed


async def _give_up_unanswered(session: AsyncSession, now: datetime) -> None:
    """A row whose last allowed attempt never recorded an answer (its worker died) has
    nothing left to try: it gives up, visibly, instead of staying due for ever."""
    # pending | failed -> gave_up
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
    falling_over: set[uuid.UUID] = set()
    gone = {endpoint for outcome in outcomes for endpoint in outcome.gone}
    if gone:
        await session.execute(delete(PushSubscription).where(PushSubscription.endpoint.in_(gone)))
    sent = [outcome for outcome in outcomes if outcome.sent]
    if sent:
        # pending | failed | gave_up -> sent: one statement for the whole batch, executed
        # once per row by the driver (executemany), instead of one round of statement
        # building and execution per delivery (a fifth of the dispatcher's time, profiled).
        await session.execute(
            update(DELIVERIES)
            .where(
                DELIVERIES.c.id == bindparam("sent_id"),
                DELIVERIES.c.status != DeliveryStatus.sent,
            )
            .values(
                status=DeliveryStatus.sent,
                provider_id=bindparam("sent_provider_id"),
                sent_at=now,
                next_attempt_at=None,
                error=None,
            ),
            [
                {"sent_id": outcome.delivery_id, "sent_provider_id": outcome.provider_id}
                for outcome in sent
            ],
        )
    for outcome in outcomes:
        if outcome.sent:
            continue
        session.add(
            Attempt(
                delivery_id=outcome.delivery_id,
                attempt=outcome.attempt,
                status_code=outcome.status_code,
                answer=(outcome.error or "")[:ANSWER_KEPT],
                created_at=now,
            )
        )
        gave_up = outcome.permanent or outcome.attempt >= MAX_ATTEMPTS
        if outcome.permanent or outcome.attempt >= URGENT_FALLOVER_FAILURES:
            falling_over.add(outcome.delivery_id)
        # pending | failed -> failed | gave_up
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
    await fallover.fall_over(session, falling_over)
