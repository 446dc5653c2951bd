"""The one way to tell a person something.

`notify` writes the notification and one delivery row per channel in the caller's
transaction: the notifications table is the outbox, so a change and the promise to tell
someone about it commit together, and a crash afterwards loses nothing because the
dispatcher (`jobs.py`) finds the pending rows in the database. The in-app copy needs no
dispatcher: it is the row itself, announced on `user:<id>` once the transaction commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import realtime
from clinicflow.clinic import service as clinic
from clinicflow.core import clock, moments
from clinicflow.notifications import schemas, templates
from clinicflow.notifications.models import (
    Delivery,
    Notification,
    NotificationAttachment,
    Preference,
)
from clinicflow.notifications.schemas import Channel, DeliveryStatus, Kind
from clinicflow.notifications.service.bell import unread_count
from clinicflow.notifications.service.channel_choice import (
    allowed_channels,
    effective_channels,
    recipient_of,
)
from clinicflow.notifications.service.send_limits import within_limits


async def already_told(session: AsyncSession, dedupe_key: str) -> bool:
    """Whether the notification that names itself so was written (a timed one, sent once)."""
    found = await session.scalar(
        select(Notification.id).where(Notification.dedupe_key == dedupe_key)
    )
    return found is not None


async def notify(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    kind: Kind,
    values: Mapping[str, str] | None = None,
    times: Mapping[str, datetime] | None = None,
    appointment_id: uuid.UUID | None = None,
    consultation_id: uuid.UUID | None = None,
    dedupe_key: str | None = None,
    attachments: Sequence[schemas.Attachment] = (),
) -> Notification | None:
    """Tell `user_id` about something in this transaction; None if they cannot be told
    (deactivated) or were already told (`dedupe_key`).

    `times` are moments the text names: each is written here, once the recipient's language
    is known, on the clinic's clock (core/moments.py) and labelled with its zone (a text is
    read wherever its reader is), so the SMS says what the page says."""
    if dedupe_key is not None and await already_told(session, dedupe_key):
        return None
    recipient = await recipient_of(session, user_id)
    if recipient is None:
        return None
    template = templates.TEMPLATES[kind]
    filled = dict(values or {})
    if times:
        zone = (await clinic.current(session=session)).timezone
        for name, at in times.items():
            filled[name] = f"{moments.format_moment(at, zone, recipient.language)} ({zone})"
    title, body = templates.render(kind, recipient.language, filled)
    chosen = await session.scalar(
        select(Preference.channels).where(Preference.user_id == user_id, Preference.kind == kind)
    )
    channels = effective_channels(
        kind, chosen=chosen, allowed=await allowed_channels(session), available=recipient.addresses
    )
    channels = await within_limits(
        session,
        user_id=user_id,
        priority=template.priority,
        channels=channels,
        addresses=recipient.addresses,
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
    session.add_all(
        NotificationAttachment(
            notification_id=notification.id,
            filename=attachment.filename,
            content_type=attachment.content_type,
            content=attachment.content,
        )
        for attachment in attachments
    )
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
        await realtime.publish_to_user(
            session,
            user_id,
            type="notification.created",
            data={"notification": out, "unread_count": unread},
        )
    return notification
