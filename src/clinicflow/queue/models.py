"""Tables of the queue domain."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from clinicflow.core.security import EncryptedText
from clinicflow.db import Base, UUIDPrimaryKey, string_enum
from clinicflow.identity.schemas import PatientType
from clinicflow.queue.schemas import EntrySource, EntryStatus, Severity


class Queue(UUIDPrimaryKey, Base):
    """One doctor's queue on one of the doctor's local dates.

    Token numbers and the revision are counters on this row, taken with `UPDATE … RETURNING`
    in the joining transaction: concurrent joins queue on the row, so no number is given
    twice or skipped, and every change gets a revision that orders its announcement.
    """

    __tablename__ = "queues"
    __table_args__ = (UniqueConstraint("doctor_id", "day", name="uq_queues_doctor_id_day"),)

    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    day: Mapped[date]
    last_token: Mapped[int] = mapped_column(Integer, default=0)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    serving_token: Mapped[int | None] = mapped_column(Integer)
    paused: Mapped[bool] = mapped_column(default=False)
    doctor_away: Mapped[bool] = mapped_column(default=False)
    doctor_absent_since: Mapped[datetime | None]
    # The doctor's last call or no-show, for "undo" within a couple of minutes:
    # `{"action", "entry_id", "at", "status", "called_at", "skipped_at", "serving_token",
    # "appointment_status"}` (the values before it; `service/controls._remember`).
    last_action: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]


class QueueEntry(UUIDPrimaryKey, Base):
    __tablename__ = "queue_entries"
    __table_args__ = (
        UniqueConstraint("queue_id", "token", name="uq_queue_entries_queue_id_token"),
        # One place per patient in a queue at a time: a double click or a second desk
        # cannot give a patient two tokens. The statuses are `service.lifecycle.ACTIVE`.
        Index(
            "uq_queue_entries_queue_id_patient_id_active",
            "queue_id",
            "patient_id",
            unique=True,
            sqlite_where=text("status IN ('waiting', 'in_consultation', 'skipped')"),
            postgresql_where=text("status IN ('waiting', 'in_consultation', 'skipped')"),
        ),
        Index("ix_queue_entries_queue_id_status", "queue_id", "status"),
        Index("ix_queue_entries_patient_id_day", "patient_id", "day"),
        Index("ix_queue_entries_doctor_id_finished_at", "doctor_id", "finished_at"),
        Index("ix_queue_entries_status_skipped_at", "status", "skipped_at"),
        # Analytics reads one clinic day of places at a time (`service/facts.py`).
        Index("ix_queue_entries_joined_at", "joined_at"),
    )

    queue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("queues.id"))
    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    day: Mapped[date]
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"))
    consultation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consultations.id"))
    token: Mapped[int] = mapped_column(Integer)
    status: Mapped[EntryStatus] = mapped_column(
        string_enum(EntryStatus), default=EntryStatus.waiting
    )
    severity: Mapped[Severity] = mapped_column(string_enum(Severity), default=Severity.routine)
    patient_type: Mapped[PatientType] = mapped_column(
        string_enum(PatientType), default=PatientType.adult
    )
    source: Mapped[EntrySource] = mapped_column(string_enum(EntrySource))
    # The booked start, copied so ordering needs no join (the late-appointment bonus).
    appointment_starts_at: Mapped[datetime | None]
    online: Mapped[bool] = mapped_column(default=False)
    joined_at: Mapped[datetime]
    ready_at: Mapped[datetime | None]
    called_at: Mapped[datetime | None]
    skipped_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    # Put by hand just before another waiting entry (staff "move"), kept while both wait.
    pinned_before_id: Mapped[uuid.UUID | None]
    pinned_at: Mapped[datetime | None]


class QueueRules(Base):
    """The clinic's priority rules; every change is a new version, never an overwrite."""

    __tablename__ = "queue_rules"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class Reassignment(UUIDPrimaryKey, Base):
    """A patient given a new token after missing their turn: the history of an appointment
    (or of a walk-in's visit) across its tokens."""

    __tablename__ = "queue_reassignments"
    __table_args__ = (Index("ix_queue_reassignments_appointment_id", "appointment_id"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"))
    old_entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("queue_entries.id"))
    new_entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("queue_entries.id"))
    old_token: Mapped[int] = mapped_column(Integer)
    new_token: Mapped[int] = mapped_column(Integer)
    # Why the patient was given a new token: clinical text, encrypted at rest.
    reason: Mapped[str] = mapped_column(EncryptedText())
    at: Mapped[datetime]
