"""Tables of the scheduling domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from clinicflow.db import Base, Timestamps, UUIDPrimaryKey, string_enum


class AppointmentStatus(StrEnum):
    booked = "booked"
    checked_in = "checked_in"
    in_consultation = "in_consultation"
    completed = "completed"
    cancelled = "cancelled"
    no_show = "no_show"


class Mode(StrEnum):
    online = "online"
    in_person = "in_person"


class Availability(Base):
    """A doctor's week, written in the doctor's own timezone.

    Intervals are kept as the doctor wrote them ("09:00"–"12:00" local) rather than as
    instants, so that a daylight-saving change moves the instants, not the working hours.
    """

    __tablename__ = "availabilities"

    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64))
    slot_minutes: Mapped[int] = mapped_column(Integer)
    weekly: Mapped[dict[str, Any]] = mapped_column(JSON)
    exceptions: Mapped[list[Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class Appointment(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "appointments"
    __table_args__ = (
        # The rule "one live appointment per doctor and start" lives in the database, so no
        # interleaving of requests, processes or servers can ever double-book.
        Index(
            "uq_appointments_doctor_id_starts_at_live",
            "doctor_id",
            "starts_at",
            unique=True,
            sqlite_where=text("status != 'cancelled'"),
            postgresql_where=text("status != 'cancelled'"),
        ),
        Index("ix_appointments_patient_id_starts_at", "patient_id", "starts_at"),
    )

    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    booked_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    mode: Mapped[Mode] = mapped_column(string_enum(Mode))
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[AppointmentStatus] = mapped_column(
        string_enum(AppointmentStatus), default=AppointmentStatus.booked
    )
    cancelled_at: Mapped[datetime | None]


class SlotHold(UUIDPrimaryKey, Base):
    """A slot kept for one patient for a few minutes while they decide.

    At most one row per doctor and start: an expired hold is deleted by whoever wants the
    slot next, in the same transaction, before inserting theirs.
    """

    __tablename__ = "slot_holds"
    __table_args__ = (
        UniqueConstraint("doctor_id", "starts_at", name="uq_slot_holds_doctor_id_starts_at"),
        Index("ix_slot_holds_patient_id_doctor_id", "patient_id", "doctor_id"),
    )

    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class CalendarFeed(Base):
    """A private calendar subscription URL: one per user, the secret kept only as a hash."""

    __tablename__ = "calendar_feeds"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
