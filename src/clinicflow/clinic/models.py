"""The clinic's settings as stored: one row per saved version, never overwritten."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from clinicflow.db import Base


class ClinicSettings(Base):
    """One saved version of the clinic's settings, complete (not a diff), so the current
    settings are one row and an old version can be read as it was. The primary key on the
    version makes two admins saving at once collide instead of both becoming "version 4"."""

    __tablename__ = "clinic_settings"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
