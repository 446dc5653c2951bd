"""Tables of the scheduling domain."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, event, text
from sqlalchemy.orm import Mapped, Mapper, mapped_column, object_session

from clinicflow.core.security import EncryptedText
from clinicflow.db import Base, Timestamps, UUIDPrimaryKey, string_enum
from clinicflow.scheduling.schemas import AppointmentStatus, Mode, WaitlistStatus


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
        # Analytics reads one clinic day of appointments at a time (`service/facts.py`).
        Index("ix_appointments_starts_at", "starts_at"),
        Index("ix_appointments_created_at", "created_at"),
    )

    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    booked_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    mode: Mapped[Mode] = mapped_column(string_enum(Mode))
    # What the patient came for is clinical text: encrypted at rest.
    reason: Mapped[str] = mapped_column(EncryptedText(), default="")
    status: Mapped[AppointmentStatus] = mapped_column(
        string_enum(AppointmentStatus), default=AppointmentStatus.booked
    )
    cancelled_at: Mapped[datetime | None]
    # Times the patient missed their turn in the queue and asked for a new token.
    late_arrivals: Mapped[int] = mapped_column(Integer, default=0)
    # Goes up by one with every change of the row (`_bump_version` below), so an offline
    # client's change made against an older version is answered with a conflict (sync).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))


@event.listens_for(Appointment, "before_update")
def _bump_version(_mapper: Mapper[Appointment], _connection: object, target: Appointment) -> None:
    """Every verb of scheduling changes appointments through the ORM, so bumping here, on
    the flush, covers each of them (and any verb added later) without one being forgotten.
    A row flushed with no real change keeps its version."""
    session = object_session(target)
    if session is not None and session.is_modified(target, include_collections=False):
        target.version = target.version + 1


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


class WaitlistEntry(UUIDPrimaryKey, Base):
    """A patient waiting for a freed time with one doctor between two days.

    The days are the doctor's local dates (the doctor's current zone decides which day a
    freed slot falls on), because that is how the patient chose them: from the doctor's
    week, whose days are the doctor's. Order of service is `created_at`, first come first.
    """

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        # One active entry per patient and doctor, kept by the database so that a double
        # click cannot put a patient twice in one queue.
        Index(
            "uq_waitlist_entries_patient_id_doctor_id_active",
            "patient_id",
            "doctor_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index(
            "ix_waitlist_entries_doctor_id_status_created_at", "doctor_id", "status", "created_at"
        ),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    first_day: Mapped[date]
    last_day: Mapped[date]
    status: Mapped[WaitlistStatus] = mapped_column(
        string_enum(WaitlistStatus), default=WaitlistStatus.active
    )
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class OfferStatus(StrEnum):
    open = "open"
    booked = "booked"
    lapsed = "lapsed"


class WaitlistOffer(UUIDPrimaryKey, Base):
    """A freed slot offered to one waiting patient, kept for them by a `SlotHold`.

    The row outlives its hold (holds are deleted when they end), so it remembers that this
    entry was offered this slot, which is never offered to it again, and whether the offer
    was booked or lapsed and passed on to the next patient.
    """

    __tablename__ = "waitlist_offers"
    __table_args__ = (
        UniqueConstraint("entry_id", "starts_at", name="uq_waitlist_offers_entry_id_starts_at"),
        Index("ix_waitlist_offers_status_expires_at", "status", "expires_at"),
        Index("ix_waitlist_offers_doctor_id_starts_at", "doctor_id", "starts_at"),
    )

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("waitlist_entries.id"))
    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    # Not a foreign key: the hold is deleted when it is booked, released or replaced.
    hold_id: Mapped[uuid.UUID]
    starts_at: Mapped[datetime]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[OfferStatus] = mapped_column(string_enum(OfferStatus), default=OfferStatus.open)
    ended_at: Mapped[datetime | None]
