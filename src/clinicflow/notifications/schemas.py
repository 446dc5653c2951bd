"""The notifications' JSON shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from clinicflow.core.schemas import StrictModel
from clinicflow.identity.schemas import no_control_characters
from clinicflow.notifications.models import Channel, DeliveryStatus, Kind, Priority


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
