"""Tables of the records domain: visit notes (every version kept), prescriptions, and the
patient's clinical lists (allergies, conditions, medications; every version kept).

Both copy the consultation's patient and doctor, so a patient's record is read from these
tables alone, and their clinical text is stored through `EncryptedText`. Neither is ever
updated in place: a note changes by adding a version, a prescription by a new one that
supersedes it (enforced below for every ORM flush, not only by the service).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from clinicflow.core.security import EncryptedText
from clinicflow.db import Base, UUIDPrimaryKey


class VisitNoteVersion(UUIDPrimaryKey, Base):
    """One version of a consultation's visit note; the highest `version` is the note."""

    __tablename__ = "visit_note_versions"
    __table_args__ = (
        UniqueConstraint("consultation_id", "version", name="uq_visit_note_versions_version"),
        Index("ix_visit_note_versions_patient_id", "patient_id"),
    )

    consultation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultations.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer)
    body_markdown: Mapped[str] = mapped_column(EncryptedText())
    diagnosis: Mapped[str] = mapped_column(EncryptedText())
    follow_up_on: Mapped[date | None]
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class Prescription(UUIDPrimaryKey, Base):
    """An issued prescription. `content` is the JSON of the medications and advice."""

    __tablename__ = "prescriptions"
    __table_args__ = (
        Index("ix_prescriptions_patient_id_issued_at", "patient_id", "issued_at"),
        Index("ix_prescriptions_consultation_id", "consultation_id"),
    )

    consultation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultations.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime]
    verification_code: Mapped[str] = mapped_column(String(16), unique=True)
    content: Mapped[str] = mapped_column(EncryptedText())
    # Unique: a prescription is corrected at most once, so the chain of corrections is a line.
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("prescriptions.id"), unique=True
    )


class ClinicalItem(UUIDPrimaryKey, Base):
    """One line of a patient's clinical lists: an allergy, a condition or a medication.

    `content` is the JSON of its values (substance, reaction, severity; name, ICD-10, onset;
    name, form, strength, dose), encrypted like every clinical text. `kind` and `status`
    stay readable so the active lines are found without decrypting the rest; they say
    nothing clinical on their own. The row holds the latest version; `ClinicalItemVersion`
    keeps every one, this one included.
    """

    __tablename__ = "clinical_items"
    __table_args__ = (Index("ix_clinical_items_patient_id_kind", "patient_id", "kind"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(EncryptedText())
    version: Mapped[int] = mapped_column(Integer)
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]
    updated_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]


class ClinicalItemVersion(UUIDPrimaryKey, Base):
    """One version of a clinical list line, as it was written (never changed)."""

    __tablename__ = "clinical_item_versions"
    __table_args__ = (
        UniqueConstraint("item_id", "version", name="uq_clinical_item_versions_version"),
    )

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinical_items.id"))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(EncryptedText())
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class ImmutableRecord(Exception):
    """An attempt to change or delete an issued prescription or a stored note version."""


def _refuse(_mapper: Mapper[Any], _connection: Any, target: object) -> None:
    raise ImmutableRecord(f"{type(target).__name__} rows are never changed once stored")


for _table in (VisitNoteVersion, Prescription, ClinicalItemVersion):
    event.listen(_table, "before_update", _refuse)
    event.listen(_table, "before_delete", _refuse)
