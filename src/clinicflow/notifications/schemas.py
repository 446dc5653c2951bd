"""The notifications' enums, each with the words a person reads for it, and their JSON
shapes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from clinicflow import i18n
from clinicflow.core.schemas import StrictModel
from clinicflow.i18n import gettext as _
from clinicflow.i18n import gettext_in
from clinicflow.identity.schemas import no_control_characters


class Channel(StrEnum):
    in_app = "in_app"
    sms = "sms"
    push = "push"
    email = "email"

    @property
    def label(self) -> str:
        return {
            Channel.in_app: _("In the app"),
            Channel.sms: _("SMS"),
            Channel.push: _("Browser notification"),
            Channel.email: _("Email"),
        }[self]


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    urgent = "urgent"


class Kind(StrEnum):
    """What a notification is about; the names are the API's `type` values."""

    booking_confirmed = "booking_confirmed"
    booking_cancelled = "booking_cancelled"
    booking_moved = "booking_moved"
    reminder_24h = "reminder_24h"
    reminder_1h = "reminder_1h"
    checked_in = "checked_in"
    queue_top10 = "queue_top10"
    queue_top3 = "queue_top3"
    queue_next = "queue_next"
    queue_turn = "queue_turn"
    queue_missed = "queue_missed"
    queue_new_token = "queue_new_token"
    doctor_away = "doctor_away"
    meeting_link = "meeting_link"
    consult_accepted = "consult_accepted"
    consult_declined = "consult_declined"
    consult_ended = "consult_ended"
    chat_message = "chat_message"
    weekly_report = "weekly_report"

    def title_in(self, language: str) -> str:
        """The type's title in `language`: every notification of the type carries it, and a
        page that lists the types names each by it (`label`). A title has no placeholders,
        so one text serves both; the bodies, which have them, are in `templates.py`."""
        return _TITLES[self](language)

    @property
    def label(self) -> str:
        return self.title_in(i18n.current_language())


_TITLES: dict[Kind, Callable[[str], str]] = {
    Kind.booking_confirmed: lambda lang: gettext_in(lang, "Appointment confirmed"),
    Kind.booking_cancelled: lambda lang: gettext_in(lang, "Appointment cancelled"),
    Kind.booking_moved: lambda lang: gettext_in(lang, "Appointment moved"),
    Kind.reminder_24h: lambda lang: gettext_in(lang, "Appointment tomorrow"),
    Kind.reminder_1h: lambda lang: gettext_in(lang, "Appointment in one hour"),
    Kind.checked_in: lambda lang: gettext_in(lang, "You are checked in"),
    Kind.queue_top10: lambda lang: gettext_in(lang, "Getting closer"),
    Kind.queue_top3: lambda lang: gettext_in(lang, "Almost your turn"),
    Kind.queue_next: lambda lang: gettext_in(lang, "You're next"),
    Kind.queue_turn: lambda lang: gettext_in(lang, "It's your turn"),
    Kind.queue_missed: lambda lang: gettext_in(lang, "Appointment missed"),
    Kind.queue_new_token: lambda lang: gettext_in(lang, "New token"),
    Kind.doctor_away: lambda lang: gettext_in(lang, "Doctor away"),
    Kind.meeting_link: lambda lang: gettext_in(lang, "New meeting link"),
    Kind.consult_accepted: lambda lang: gettext_in(lang, "Consultation accepted"),
    Kind.consult_declined: lambda lang: gettext_in(lang, "Consultation declined"),
    Kind.consult_ended: lambda lang: gettext_in(lang, "Consultation ended"),
    Kind.chat_message: lambda lang: gettext_in(lang, "New message"),
    Kind.weekly_report: lambda lang: gettext_in(lang, "Weekly report"),
}


class DeliveryStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"
    gave_up = "gave_up"

    @property
    def label(self) -> str:
        return {
            DeliveryStatus.pending: _("Pending"),
            DeliveryStatus.sent: _("Sent"),
            DeliveryStatus.failed: _("Failed, will retry"),
            DeliveryStatus.gave_up: _("Gave up"),
        }[self]


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    type: Kind = Field(validation_alias="kind")
    priority: Priority
    title: str
    body: str
    appointment_id: uuid.UUID | None
    consultation_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None


class NotificationListOut(BaseModel):
    items: list[NotificationOut]
    unread_count: int


class ReadAllOut(BaseModel):
    marked: int
    unread_count: int


class TypePreferenceOut(BaseModel):
    type: Kind
    priority: Priority
    # Urgent types go to every channel the person has, whatever is chosen here.
    channels: list[Channel]
    defaults: list[Channel]
    chosen: bool


class PreferencesOut(BaseModel):
    allowed_channels: list[Channel]
    available_channels: list[Channel]
    types: list[TypePreferenceOut]


class PreferencesIn(StrictModel):
    """Channels per type; types left out keep what they had."""

    types: dict[Kind, Annotated[list[Channel], Field(max_length=4)]]


Key = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_=-]+$")]


class PushKeysIn(StrictModel):
    p256dh: Key
    auth: Key


class PushSubscriptionIn(BaseModel):
    """`PushSubscription.toJSON()` as the browser gives it (extra fields are ignored)."""

    endpoint: Annotated[
        str,
        StringConstraints(min_length=10, max_length=1000, pattern=r"^https?://\S+$"),
        AfterValidator(no_control_characters),
    ]
    keys: PushKeysIn


class PushSubscriptionOut(BaseModel):
    id: uuid.UUID
    endpoint: str


class PushConfigOut(BaseModel):
    public_key: str | None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    notification_id: uuid.UUID
    user_id: uuid.UUID
    type: Kind
    channel: Channel
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    provider_id: str | None
    error: str | None
    sent_at: datetime | None
    created_at: datetime


class AttemptOut(BaseModel):
    """One failed attempt of a delivery and what the provider answered."""

    model_config = ConfigDict(from_attributes=True)

    attempt: int
    status_code: int | None
    answer: str
    created_at: datetime


class RetryFilter(StrictModel):
    """Which failed deliveries "Retry failed" sends again: those that gave up, those
    waiting to retry, or both (no status), narrowed by channel and type."""

    status: Literal["failed", "gave_up"] | None = None
    channel: Channel | None = None
    type: Kind | None = None


class RetriedOut(BaseModel):
    retried: int


@dataclass(frozen=True)
class Attachment:
    """A file sent with a notification's e-mail (other channels carry the text alone)."""

    filename: str
    content_type: str  # "application/pdf"
    content: bytes
