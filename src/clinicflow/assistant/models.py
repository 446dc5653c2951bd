"""The assistant's tables: the database memory store's (used when no Redis is configured),
the doctor's drafts, and the booking conversations.

The memory's text is clinical (findings, instructions), so it is encrypted at rest like
message bodies. A booking conversation keeps no words the patient wrote, only what was
understood (days, part of the day, specialties, doctors) and offered.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from clinicflow.core.security import EncryptedText
from clinicflow.db import Base, UUIDPrimaryKey


class MemoryRow(UUIDPrimaryKey, Base):
    __tablename__ = "assistant_memory"

    consultation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultations.id"), index=True)
    text: Mapped[str] = mapped_column(EncryptedText())
    source_message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("consultation_messages.id")
    )
    source_seq: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DraftRow(UUIDPrimaryKey, Base):
    """The assistant's draft prescription of one consultation, for its doctor: one at a time
    (a new draft replaces it), kept until the doctor issues it from the form or discards it.
    The content is the draft's JSON, clinical, so encrypted."""

    __tablename__ = "assistant_drafts"

    consultation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultations.id"), unique=True)
    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    question_seq: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(EncryptedText())
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class BookingConversation(UUIDPrimaryKey, Base):
    """One patient booking by conversation (`service/booking.py`): what they asked for so far
    (`wish`), the times last offered, the hold placed on the one they picked, and how it
    ended. `status`: `open`, `booked` or `ended` (left, or closed by DELETE)."""

    __tablename__ = "assistant_booking_conversations"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    wish: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    offers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The hold placed on the picked offer: {id, doctor_id, starts_at, expires_at}.
    held: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The waitlist offered when nothing was free: {doctor_id, first_day, last_day}.
    waitlist: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    appointment_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
