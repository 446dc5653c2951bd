"""Tables of the notifications domain: the notification (the outbox), one delivery per
channel, each person's channel choices and their browsers' push subscriptions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clinicflow.core import clock
from clinicflow.db import Base, UUIDPrimaryKey, string_enum
from clinicflow.notifications.schemas import Channel, DeliveryStatus, Kind, Priority


class Notification(UUIDPrimaryKey, Base):
    """One thing a person is told. Written in the transaction of the change that causes it,
    so the change and the promise to tell commit (or vanish) together."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[Kind] = mapped_column(string_enum(Kind))
    priority: Mapped[Priority] = mapped_column(string_enum(Priority))
    language: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"))
    consultation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consultations.id"))
    # Timed notifications (reminders) name themselves, so a scheduler that runs twice, or
    # in two workers at once, cannot tell anyone twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    read_at: Mapped[datetime | None]


class Delivery(UUIDPrimaryKey, Base):
    """One channel's attempt record for one notification. Its id is the idempotency key a
    provider receives, so a resend after a crash is recognised as the same message."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        Index("ix_notification_deliveries_status_next", "status", "next_attempt_at"),
        # Analytics reads one clinic day of deliveries at a time (`service/facts.py`).
        Index("ix_notification_deliveries_created_at", "created_at"),
    )

    notification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notifications.id"), index=True)
    channel: Mapped[Channel] = mapped_column(string_enum(Channel))
    address: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[DeliveryStatus] = mapped_column(string_enum(DeliveryStatus))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(String(120))
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Preference(Base):
    """The channels one person chose for one type; absent means the type's defaults."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    kind: Mapped[Kind] = mapped_column(string_enum(Kind), primary_key=True)
    channels: Mapped[list[str]] = mapped_column(JSON)


class PushSubscription(UUIDPrimaryKey, Base):
    """A browser's Web Push endpoint and keys, as its service worker reported them."""

    __tablename__ = "push_subscriptions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Attempt(UUIDPrimaryKey, Base):
    """One failed send of a delivery, with what the provider answered (its HTTP status and
    the start of its body, or the network error), so the deliveries page shows why a
    message has not arrived without anyone reading the worker's logs. Successes are on the
    delivery itself (`sent_at`, `provider_id`)."""

    __tablename__ = "notification_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_deliveries.id"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    answer: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class NotificationAttachment(UUIDPrimaryKey, Base):
    """A file an e-mail of the notification carries (the weekly report's PDF and CSV). Kept
    beside the notification, so a retry a day later sends the same bytes."""

    __tablename__ = "notification_attachments"

    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(80))
    content: Mapped[bytes] = mapped_column(LargeBinary)
