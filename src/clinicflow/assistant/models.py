"""The database memory store's table (used when no Redis is configured).

The text is clinical (findings, instructions), so it is encrypted at rest like message bodies.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer
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
