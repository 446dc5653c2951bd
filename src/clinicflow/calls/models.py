"""The call history table: one row per call, several per consultation. No media is stored."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from clinicflow.calls.schemas import CallKind, CallStatus
from clinicflow.db import Base, UUIDPrimaryKey, string_enum


class Call(UUIDPrimaryKey, Base):
    __tablename__ = "consultation_calls"
    __table_args__ = (
        Index("ix_consultation_calls_consultation_id_started_at", "consultation_id", "started_at"),
    )

    consultation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultations.id"))
    started_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[CallKind] = mapped_column(string_enum(CallKind))
    status: Mapped[CallStatus] = mapped_column(string_enum(CallStatus))
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    # From answer to hang-up, whole seconds; None for a call never answered.
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
