"""API and event shapes of consultations (never the tables themselves).

A message looks the same in an HTTP answer, a socket event and a replay:
`{id, seq, client_id, sender_id, sender_role, kind, body, created_at}`, plus `attachment`
on attachment messages only and `private: true` on the doctor's private assistant thread.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from clinicflow.core.schemas import StrictModel
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import no_control_characters

MAX_PROBLEM = 2000
MAX_BODY = 4000
MAX_REASON = 500
MAX_NOTES = 20000
# URL-safe characters only, and no ":" so a client id can never look like the service's own
# `system:…` ids.
CLIENT_ID_PATTERN = r"^[A-Za-z0-9._~-]{1,64}$"

# A message that mentions the assistant (`@b`, `@assistant`) anywhere asks it a question
# (the assistant reads the rest); the doctor's such messages are their private thread.
ASSISTANT_MENTION = re.compile(r"(?<![\w@.])@(?:b|assistant)(?![\w@])", re.IGNORECASE)

ClientId = Annotated[str, StringConstraints(pattern=CLIENT_ID_PATTERN)]
Problem = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_PROBLEM),
    AfterValidator(no_control_characters),
]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REASON),
    AfterValidator(no_control_characters),
]
Body = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_BODY), AfterValidator(no_control_characters)
]
Notes = Annotated[
    str, StringConstraints(max_length=MAX_NOTES), AfterValidator(no_control_characters)
]


# The enums live here, not in `models`, so another domain reads them without importing the
# tables; `models` uses them from here. Those a person reads carry their words (`label`,
# translated when read; `core/labels.py`), so pages and templates keep no copy of them.


class ConsultationType(StrEnum):
    chat = "chat"
    audio = "audio"
    video = "video"
    # A visit at the clinic, opened when the doctor calls the patient from the queue: no
    # chat, a record (note, prescriptions) like any other consultation.
    in_person = "in_person"

    @property
    def label(self) -> str:
        return {
            ConsultationType.chat: _("Chat"),
            ConsultationType.audio: _("Audio call"),
            ConsultationType.video: _("Video call"),
            ConsultationType.in_person: _("In person"),
        }[self]


class ConsultationStatus(StrEnum):
    pending = "pending"
    active = "active"
    declined = "declined"
    ended = "ended"
    # An in-person visit that did not take place: its patient was skipped, or the call that
    # opened it was undone (the queue decides; `lifecycle.cancel_visit`).
    cancelled = "cancelled"

    @property
    def label(self) -> str:
        return {
            ConsultationStatus.pending: _("Waiting for the doctor"),
            ConsultationStatus.active: _("In progress"),
            ConsultationStatus.declined: _("Declined"),
            ConsultationStatus.ended: _("Ended"),
            ConsultationStatus.cancelled: _("Cancelled"),
        }[self]


class SenderRole(StrEnum):
    patient = "patient"
    doctor = "doctor"
    system = "system"
    assistant = "assistant"


class MessageKind(StrEnum):
    text = "text"
    attachment = "attachment"
    system = "system"
    assistant = "assistant"


class ConsultationIn(StrictModel):
    doctor_id: uuid.UUID
    problem: Problem
    type: ConsultationType
    appointment_id: uuid.UUID | None = None


class DeclineIn(StrictModel):
    reason: Reason


class MessageIn(StrictModel):
    client_id: ClientId
    body: Body


class SocketSend(MessageIn):
    """A `send` frame carries `op` and `topic` beside the message; only these two are ours."""

    model_config = ConfigDict(extra="ignore")


class NotesIn(StrictModel):
    notes: Notes


class RecordingIn(StrictModel):
    url: Annotated[str, StringConstraints(pattern=r"^https://\S+$", max_length=2000)]
    duration_seconds: int = Field(ge=0, le=7 * 24 * 3600)
    size_bytes: int = Field(ge=0, le=2**50)


class RecordingOut(BaseModel):
    url: str
    duration_seconds: int | None
    size_bytes: int | None


class ConsultationOut(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str
    doctor_id: uuid.UUID
    doctor_name: str
    appointment_id: uuid.UUID | None
    type: ConsultationType
    status: ConsultationStatus
    problem: str
    decline_reason: str | None
    meet_url: str | None
    created_at: datetime
    accepted_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    last_seq: int
    recording: RecordingOut | None


class ConsultationPage(BaseModel):
    items: list[ConsultationOut]
    next_cursor: str | None


class DeskEntry(BaseModel):
    """Who is with whom: nothing of what the consultation is about."""

    id: uuid.UUID
    status: ConsultationStatus
    type: ConsultationType
    patient_id: uuid.UUID
    patient_name: str
    doctor_id: uuid.UUID
    doctor_name: str
    created_at: datetime
    accepted_at: datetime | None


class AttachmentOut(BaseModel):
    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    url: str


class MessageOut(BaseModel):
    id: uuid.UUID
    seq: int
    client_id: str
    sender_id: uuid.UUID | None
    sender_role: SenderRole
    kind: MessageKind
    body: str
    created_at: datetime
    # Text and system messages keep exactly the eight fields of the protocol.
    attachment: AttachmentOut | None = Field(default=None, exclude_if=lambda value: value is None)
    # The doctor's private assistant thread (their `@b` questions and its answers): only
    # ever sent to that doctor, and marked so their page shows it as private.
    private: bool = Field(default=False, exclude_if=lambda value: not value)


class MessagePage(BaseModel):
    """One page of history, oldest first; `before_seq` asks for the page before it (null at
    the beginning of the conversation)."""

    items: list[MessageOut]
    before_seq: int | None


class NotesOut(BaseModel):
    notes: str


def attachment_url(consultation_id: uuid.UUID, attachment_id: uuid.UUID) -> str:
    return f"/api/consultations/{consultation_id}/attachments/{attachment_id}"


class AttachmentView(Protocol):
    """What a message's answer shows of its file: a stored `Attachment` is one."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def filename(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def size_bytes(self) -> int: ...


class MessageView(Protocol):
    """What a message's answer and event are made of: a stored `Message`, or one a writer
    has just numbered (`service.sending.NewMessage`)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def consultation_id(self) -> uuid.UUID: ...
    @property
    def seq(self) -> int: ...
    @property
    def client_id(self) -> str: ...
    @property
    def sender_id(self) -> uuid.UUID | None: ...
    @property
    def sender_role(self) -> SenderRole: ...
    @property
    def kind(self) -> MessageKind: ...
    @property
    def body(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def attachment(self) -> AttachmentView | None: ...
    @property
    def private_to_id(self) -> uuid.UUID | None: ...


def message_out(message: MessageView) -> MessageOut:
    attachment = message.attachment
    return MessageOut(
        id=message.id,
        seq=message.seq,
        client_id=message.client_id,
        sender_id=message.sender_id,
        sender_role=message.sender_role,
        kind=message.kind,
        body=message.body,
        created_at=message.created_at,
        attachment=AttachmentOut(
            id=attachment.id,
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=attachment.size_bytes,
            url=attachment_url(message.consultation_id, attachment.id),
        )
        if attachment is not None
        else None,
        private=message.private_to_id is not None,
    )


def message_json(message: MessageView) -> dict[str, Any]:
    data: dict[str, Any] = message_out(message).model_dump(mode="json")
    return data


# What other domains are given instead of the tables: plain frozen values, so they read a
# consultation without holding (or being able to change) its row.


@dataclass(frozen=True, slots=True)
class ConsultationView:
    """A consultation as the medical record reads it: who, when, how, where it stands and
    what it was about. Never the doctor's private notes."""

    id: uuid.UUID
    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    appointment_id: uuid.UUID | None
    type: ConsultationType
    status: ConsultationStatus
    problem: str
    created_at: datetime
    duration_seconds: int | None

    @property
    def in_person(self) -> bool:
        """A visit at the clinic (the queue's), rather than a remote consultation."""
        return self.type is ConsultationType.in_person


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A text message of a consultation, as the medical record keeps it."""

    id: uuid.UUID
    consultation_id: uuid.UUID
    seq: int
    sender_id: uuid.UUID | None
    body: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SaidMessage:
    """A message as the assistant reads it: who wrote it and in which role, what kind it is
    and what it says. The assistant tells a question (text) from its own outcomes by `kind`,
    and the doctor's words from the patient's by `sender_role`."""

    id: uuid.UUID
    consultation_id: uuid.UUID
    seq: int
    sender_id: uuid.UUID | None
    sender_role: SenderRole
    kind: MessageKind
    body: str
    created_at: datetime
    # Set on the doctor's private assistant thread: whose it is.
    private_to_id: uuid.UUID | None = None
