"""Tables of the sync domain: what it remembers to make offline clients safe."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from clinicflow.db import Base


class AppliedMutation(Base):
    """A mutation an offline client pushed and the server applied, with its first answer.

    Keyed by (user, client id) and written in the same transaction as its effect, so the
    primary key is what makes a mutation apply at most once: a resend, or the same batch
    pushed from two tabs at once, finds the row (or waits for it on the index) and answers
    `duplicate` with the stored result instead of applying the effect again.
    """

    __tablename__ = "sync_mutations"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]


class Cursor(Base):
    """What one client held after a pull: each item's fingerprint by "type:id".

    The cursor a client sends back names this row, so the next pull answers exactly the
    differences (new, changed, gone from what the caller may see) whatever changed in
    between and in whatever order transactions committed: no clock or counter is trusted.
    The id is a digest of the user and the contents, so a pull that finds nothing new
    writes nothing.
    """

    __tablename__ = "sync_cursors"
    __table_args__ = (Index("ix_sync_cursors_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    seen: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
