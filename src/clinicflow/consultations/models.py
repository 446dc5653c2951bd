"""Tables of the consultations domain.

Clinical text (the problem, the decline reason, message bodies, the doctor's notes, file
names) is stored through `EncryptedText`, so a database dump holds none of it in the clear.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinicflow.consultations.schemas import (
    ConsultationStatus,
    ConsultationType,
    MessageKind,
    SenderRole,
)
from clinicflow.core.security import EncryptedText
from clinicflow.db import Base, Timestamps, UUIDPrimaryKey, string_enum


class Consultation(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "consultations"
    __table_args__ = (
        Index("ix_consultations_doctor_id_status", "doctor_id", "status"),
        Index("ix_consultations_patient_id_created_at", "patient_id", "created_at"),
        Index("ix_consultations_status_created_at", "status", "created_at"),
        # Analytics reads one clinic day of consultations at a time (`service/facts.py`).
        Index("ix_consultations_created_at", "created_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    doctor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"))
    problem: Mapped[str] = mapped_column(EncryptedText())
    type: Mapped[ConsultationType] = mapped_column(string_enum(ConsultationType))
    status: Mapped[ConsultationStatus] = mapped_column(
        string_enum(ConsultationStatus), default=ConsultationStatus.pending
    )
    decline_reason: Mapped[str | None] = mapped_column(EncryptedText())
    meet_url: Mapped[str | None] = mapped_column(String(64))
    accepted_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    # The last message `seq` handed out; read under the row lock and written back in the
    # sender's transaction (service/sending.py), so concurrent senders queue on this row and
    # never share or skip a number.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str | None] = mapped_column(EncryptedText())
    recording_url: Mapped[str | None] = mapped_column(String(2000))
    recording_duration_seconds: Mapped[int | None] = mapped_column(Integer)
    recording_size_bytes: Mapped[int | None] = mapped_column(BigInteger)


class Message(UUIDPrimaryKey, Base):
    __tablename__ = "consultation_messages"
    __table_args__ = (
        UniqueConstraint("consultation_id", "seq", name="uq_consultation_messages_seq"),
        # The client's own id makes a resend (after a lost answer or a reconnect) store
        # nothing new, whichever process or tab it comes through.
        UniqueConstraint("consultation_id", "client_id", name="uq_consultation_messages_client_id"),
        # Analytics counts one clinic day of assistant answers at a time.
        Index("ix_consultation_messages_created_at", "created_at"),
    )

    consultation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultations.id"))
    seq: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[str] = mapped_column(String(80))
    sender_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    sender_role: Mapped[SenderRole] = mapped_column(string_enum(SenderRole))
    kind: Mapped[MessageKind] = mapped_column(string_enum(MessageKind))
    body: Mapped[str] = mapped_column(EncryptedText())
    created_at: Mapped[datetime]
    # The doctor's private assistant thread (their `@b` questions and the answers): set to
    # that doctor, whom alone it is read by and published to (access.can_see_message).
    private_to_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    # Joined, not lazy: a page of history loads its attachments in the same query.
    attachment: Mapped[Attachment | None] = relationship(lazy="joined")


class Attachment(UUIDPrimaryKey, Base):
    __tablename__ = "consultation_attachments"

    consultation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultations.id"), index=True)
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("consultation_messages.id"), unique=True
    )
    filename: Mapped[str] = mapped_column(EncryptedText())
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
