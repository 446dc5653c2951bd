"""Realtime's own tables: the per-user event log that lets a page poll `user:<id>`.

A consultation's or queue's events are replayed from their domain's rows; a person's
(the bell, a doctor's new requests, a meeting link) have no rows of their own, so realtime
keeps them here, numbered per person, for a bounded time.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clinicflow.core.security import EncryptedText
from clinicflow.db import Base, UUIDPrimaryKey


class UserEventHead(Base):
    """The last `seq` given on one person's topic: taken with `UPDATE … RETURNING` (or an
    upsert) in the publishing transaction, so two writers never take the same number and
    the numbers commit in order. Never deleted, so a seq is never reused after pruning."""

    __tablename__ = "realtime_user_heads"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)


class UserEvent(UUIDPrimaryKey, Base):
    """One event published on `user:<id>`. `data` may name a notification's text or an
    assistant's draft, so it is encrypted at rest like other clinical text."""

    __tablename__ = "realtime_user_events"
    __table_args__ = (UniqueConstraint("user_id", "seq"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(60))
    data: Mapped[str] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(index=True)
