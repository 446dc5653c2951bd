"""API shapes of the assistant's memory, cancel requests and draft prescriptions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from clinicflow.assistant import drafts
from clinicflow.assistant.memory_stores import MemoryItem
from clinicflow.assistant.models import DraftRow
from clinicflow.assistant.prescription import PrescriptionDraft
from clinicflow.core.schemas import StrictModel

MemoryText = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class MemoryIn(StrictModel):
    """Remember `text`, or the message at `message_seq` (its text unless `text` is given)."""

    text: MemoryText | None = None
    message_seq: int | None = Field(default=None, ge=1, le=2**31 - 1)

    @model_validator(mode="after")
    def _something(self) -> MemoryIn:
        if self.text is None and self.message_seq is None:
            raise ValueError("give text or message_seq")
        return self


class MemoryPatch(StrictModel):
    text: MemoryText


class MemoryOut(BaseModel):
    id: uuid.UUID
    text: str
    source_message_id: uuid.UUID | None
    source_seq: int | None
    created_by_id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class MemoryList(BaseModel):
    items: list[MemoryOut]


class CancelIn(StrictModel):
    question_seq: int = Field(ge=1, le=2**31 - 1)


class ShareIn(StrictModel):
    """The `seq` of the private answer the doctor shares with the patient."""

    seq: int = Field(ge=1, le=2**31 - 1)


def memory_out(item: MemoryItem) -> MemoryOut:
    return MemoryOut(
        id=item.id,
        text=item.text,
        source_message_id=item.source_message_id,
        source_seq=item.source_seq,
        created_by_id=item.created_by_id,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


class DraftOut(PrescriptionDraft):
    """The consultation's draft prescription, in the records prescription's shape."""

    consultation_id: uuid.UUID
    question_seq: int
    created_at: datetime
    updated_at: datetime


def draft_out(row: DraftRow) -> DraftOut:
    return DraftOut(
        consultation_id=row.consultation_id,
        question_seq=row.question_seq,
        created_at=row.created_at,
        updated_at=row.updated_at,
        **drafts.content(row).model_dump(),
    )


# --- booking by conversation (`service/booking.py`) -----------------------------------------


class ConversationOut(BaseModel):
    id: uuid.UUID


class BookingMessageIn(StrictModel):
    text: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class OfferOut(BaseModel):
    doctor_id: uuid.UUID
    doctor_name: str
    starts_at: datetime


class HoldOut(BaseModel):
    id: uuid.UUID
    expires_at: datetime


class BookedOut(BaseModel):
    id: uuid.UUID
    starts_at: datetime


class TurnOut(BaseModel):
    """The assistant's answer: `hold` while it keeps a time, `appointment` once booked."""

    reply: str
    offers: list[OfferOut]
    hold: HoldOut | None = Field(default=None, exclude_if=lambda value: value is None)
    appointment: BookedOut | None = Field(default=None, exclude_if=lambda value: value is None)
