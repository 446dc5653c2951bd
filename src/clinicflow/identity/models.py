"""Tables of the identity domain."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinicflow import i18n
from clinicflow.core.security import EncryptedText
from clinicflow.db import Base, Timestamps, UUIDPrimaryKey, string_enum
from clinicflow.identity.schemas import Language, PatientType, Role, Sex


class User(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "users"

    role: Mapped[Role] = mapped_column(string_enum(Role), index=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(16), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Set when an admin hands out a temporary password: until the user picks their own,
    # pages send them to the change-password page and the API answers 403
    # `password_change_required` (`access.require_password_settled`).
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())

    # Joined, not lazy: every authenticated request loads its user with both profiles in
    # the same query.
    patient: Mapped[PatientProfile | None] = relationship(
        back_populates="user", lazy="joined", cascade="all, delete-orphan"
    )
    doctor: Mapped[DoctorProfile | None] = relationship(
        back_populates="user", lazy="joined", cascade="all, delete-orphan"
    )


class PatientProfile(Base):
    __tablename__ = "patient_profiles"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    patient_type: Mapped[PatientType] = mapped_column(
        string_enum(PatientType), default=PatientType.adult
    )
    preferred_language: Mapped[Language] = mapped_column(string_enum(Language), default=Language.en)
    # An age given instead of a date of birth ("about 40"), with the day it was given, so
    # it keeps counting: next year the same patient is "~41".
    estimated_age: Mapped[int | None] = mapped_column(Integer)
    estimated_on: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[Sex] = mapped_column(
        string_enum(Sex), default=Sex.unknown, server_default="unknown"
    )
    # Identity numbers and the next of kin are encrypted at rest, like clinical text.
    national_id: Mapped[str | None] = mapped_column(EncryptedText())
    insurance_number: Mapped[str | None] = mapped_column(EncryptedText())
    next_of_kin_name: Mapped[str | None] = mapped_column(EncryptedText())
    next_of_kin_phone: Mapped[str | None] = mapped_column(EncryptedText())
    # Bumped by each change of the clinical fields; each version is kept in
    # `patient_profile_versions`. 0: never filled in.
    profile_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    user: Mapped[User] = relationship(back_populates="patient")


class PatientProfileVersion(UUIDPrimaryKey, Base):
    """A kept version of a patient's clinical profile: the values once the change was
    made (encrypted, a JSON object) and the names of the fields it changed."""

    __tablename__ = "patient_profile_versions"
    __table_args__ = (UniqueConstraint("patient_id", "version"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer)
    values: Mapped[str] = mapped_column(EncryptedText())
    fields: Mapped[list[str]] = mapped_column(JSON)
    changed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime]


class Specialty(UUIDPrimaryKey, Base):
    """A specialty from the list the admin keeps, named in English and in Swahili.

    Retired, not deleted: a doctor who has it keeps it, but it is no longer offered."""

    __tablename__ = "specialties"

    name_en: Mapped[str] = mapped_column(String(80), unique=True)
    name_sw: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    @property
    def label(self) -> str:
        """The name in the reader's language (the request's, or the text's)."""
        return self.name_sw if i18n.current_language() == "sw" else self.name_en


class DoctorProfile(Base):
    __tablename__ = "doctor_profiles"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    # The free text every doctor had before the list: kept as the English name of the
    # chosen specialty, so searches and older readers still find it.
    specialty_text: Mapped[str] = mapped_column("specialty", String(80), default="General practice")
    specialty_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("specialties.id"))
    bio: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # The typical minutes of one visit.
    consultation_minutes: Mapped[int] = mapped_column(Integer, default=15)
    # Copied into each audio or video consultation when accepted, so changing it later
    # never alters a past consultation.
    meet_url: Mapped[str | None] = mapped_column(String(64))
    # The medical council's registration number, printed on prescriptions.
    registration_number: Mapped[str | None] = mapped_column(String(40))
    # Languages the doctor consults in, as patients would name them ("Kiswahili", "Dholuo").
    languages: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # The kinds of visit offered (`schemas.VisitKind` values).
    consultation_types: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # The photo's file name under `var_dir/photos` (a new name for each upload).
    photo: Mapped[str | None] = mapped_column(String(80))

    user: Mapped[User] = relationship(back_populates="doctor")
    # Joined: every reader of a doctor shows the specialty's name.
    specialty_ref: Mapped[Specialty | None] = relationship(lazy="joined")

    @property
    def specialty(self) -> str:
        """The specialty's name in the reader's language; the old free text without one."""
        return self.specialty_ref.label if self.specialty_ref else self.specialty_text

    @specialty.setter
    def specialty(self, value: str) -> None:
        self.specialty_text = value


class Invitation(UUIDPrimaryKey, Base):
    """A one-time link an admin hands a new (or locked-out) staff member to set their
    password: only the token's SHA-256 is stored, it expires, and it works once."""

    __tablename__ = "invitations"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LoginSession(UUIDPrimaryKey, Base):
    """One login: the web cookie or the chain of refresh tokens it hands out.

    Access tokens name their session, so revoking it (logout, refresh-token reuse,
    deactivation) ends every token of that login at once.
    """

    __tablename__ = "login_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    cookie_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))


class RefreshToken(UUIDPrimaryKey, Base):
    __tablename__ = "refresh_tokens"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("login_sessions.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class OtpCode(UUIDPrimaryKey, Base):
    __tablename__ = "otp_codes"
    __table_args__ = (Index("ix_otp_codes_phone_created_at", "phone", "created_at"),)

    phone: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None]
