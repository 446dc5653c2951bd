"""API shapes of the identity domain (never the tables themselves)."""

from __future__ import annotations

import re
import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from clinicflow import i18n
from clinicflow.clinic import phones
from clinicflow.core.schemas import StrictModel
from clinicflow.i18n import gettext as _


class Role(StrEnum):
    patient = "patient"
    doctor = "doctor"
    receptionist = "receptionist"
    admin = "admin"

    @property
    def label(self) -> str:
        return {
            Role.patient: _("Patient"),
            Role.doctor: _("Doctor"),
            Role.receptionist: _("Receptionist"),
            Role.admin: _("Administrator"),
        }[self]


class PatientType(StrEnum):
    adult = "adult"
    child = "child"
    elderly = "elderly"
    pregnant = "pregnant"
    disabled = "disabled"

    @property
    def label(self) -> str:
        return {
            PatientType.adult: _("Adult"),
            PatientType.child: _("Child"),
            PatientType.elderly: _("Elderly"),
            PatientType.pregnant: _("Pregnant"),
            PatientType.disabled: _("Disabled"),
        }[self]


class Sex(StrEnum):
    """A patient's sex as the clinic records it; `unknown` until someone asks."""

    female = "female"
    male = "male"
    other = "other"
    unknown = "unknown"

    @property
    def label(self) -> str:
        return {
            Sex.female: _("Female"),
            Sex.male: _("Male"),
            Sex.other: _("Other"),
            Sex.unknown: _("Not recorded"),
        }[self]


class Language(StrEnum):
    en = "en"
    sw = "sw"

    @property
    def label(self) -> str:
        """The language's own name for itself ("Kiswahili", whatever the page's language):
        a reader looks for their own language by the name they know it by, the same words
        the language switcher shows."""
        return i18n.LANGUAGES[self.value]


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {value!r}") from exc
    return value


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def no_control_characters(value: str) -> str:
    # PostgreSQL refuses NUL in text outright, and no name or note ever needs a control
    # character, so they are refused for every database alike.
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("text must not contain control characters")
    return value


# Any national or international spelling in the clinic's region, stored as E.164
# (`clinic.phones`: ASCII digits only, so "７" never becomes a second account).
Phone = Annotated[
    str, StringConstraints(max_length=phones.MAX_TYPED_LENGTH), AfterValidator(phones.to_e164)
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    AfterValidator(no_control_characters),
]
SearchText = Annotated[
    str, StringConstraints(max_length=100), AfterValidator(no_control_characters)
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]
Timezone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_timezone)]
ConsultationMinutes = Annotated[int, Field(ge=5, le=240)]
Specialty = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
    AfterValidator(no_control_characters),
]
Bio = Annotated[str, StringConstraints(max_length=4000), AfterValidator(no_control_characters)]
# Only a Google Meet room: the link is shown to patients as "join", so it must not be able
# to point anywhere else.
MeetUrl = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, pattern=r"^https://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}$"
    ),
]


LanguageName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
    AfterValidator(no_control_characters),
]


class VisitKind(StrEnum):
    """The kinds of visit a doctor offers (the consultation's types, named here because
    identity sits below consultations)."""

    in_person = "in_person"
    chat = "chat"
    audio = "audio"
    video = "video"

    @property
    def label(self) -> str:
        return {
            VisitKind.in_person: _("In person"),
            VisitKind.chat: _("Chat"),
            VisitKind.audio: _("Audio call"),
            VisitKind.video: _("Video call"),
        }[self]


# An identity document or insurance number: letters, digits and the separators cards use.
IdNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
    AfterValidator(no_control_characters),
]
EstimatedAge = Annotated[int, Field(ge=0, le=130)]
RegistrationNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
    AfterValidator(no_control_characters),
]


class LoginRequest(StrictModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)


class OtpRequest(StrictModel):
    phone: Phone


class OtpVerify(StrictModel):
    phone: Phone
    code: str = Field(pattern=r"^\d{6}$")
    name: Name | None = None


class RefreshRequest(StrictModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class LogoutRequest(StrictModel):
    refresh_token: str | None = Field(default=None, max_length=512)


class OtpRequested(BaseModel):
    sent: bool
    expires_in_seconds: int
    resend_after_seconds: int


class PatientProfileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    date_of_birth: date | None
    patient_type: PatientType
    preferred_language: Language


class DoctorProfileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    specialty: str
    bio: str
    timezone: str
    consultation_minutes: int
    meet_url: str | None
    registration_number: str | None
    specialty_id: uuid.UUID | None = None
    languages: list[str] = []
    consultation_types: list[VisitKind] = []
    photo: str | None = None


class SpecialtyIn(StrictModel):
    name_en: Specialty
    name_sw: Specialty


class SpecialtyUpdate(StrictModel):
    name_en: Specialty | None = None
    name_sw: Specialty | None = None
    retired: bool | None = None


class SpecialtyOut(BaseModel):
    """`name` is in the reader's language."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str = Field(validation_alias="label")
    name_en: str
    name_sw: str
    retired: bool


class DoctorProfileIn(StrictModel):
    """Only the fields sent change; a doctor may send bio and languages, an admin all."""

    specialty_id: uuid.UUID | None = None
    languages: list[LanguageName] | None = Field(default=None, max_length=8)
    bio: Bio | None = None
    registration_number: RegistrationNumber | None = None
    consultation_types: list[VisitKind] | None = Field(default=None, max_length=4)
    consultation_minutes: ConsultationMinutes | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    role: Role
    name: str
    email: str | None
    phone: str | None
    is_active: bool
    created_at: datetime
    patient: PatientProfileOut | None
    doctor: DoctorProfileOut | None


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: UserOut


class ProfileFields(StrictModel):
    """Profile fields accepted on create and update; each applies only to its role."""

    date_of_birth: date | None = None
    patient_type: PatientType | None = None
    preferred_language: Language | None = None
    specialty: Specialty | None = None
    bio: Bio | None = None
    timezone: Timezone | None = None
    consultation_minutes: ConsultationMinutes | None = None
    meet_url: MeetUrl | None = None
    registration_number: RegistrationNumber | None = None


class Credential(StrEnum):
    """How a new or reset staff password is handed over (`service.staff`)."""

    invitation = "invitation"
    temporary_password = "temporary_password"


class UserCreate(ProfileFields):
    """A staff account sent without a `password` gets the `credential` (an invitation link
    by default); with a password, or for a patient, it is created as before."""

    role: Role
    name: Name
    email: EmailStr | None = None
    password: Password | None = None
    phone: Phone | None = None
    credential: Credential | None = None


class UserCreated(UserOut):
    """The user, and what the admin hands over once: the invitation link or the temporary
    password (neither can be read again)."""

    invitation_url: str | None = None
    temporary_password: str | None = None


class ResetPassword(StrictModel):
    credential: Credential = Credential.invitation


class PasswordChange(StrictModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: Password


class InvitationAccept(StrictModel):
    token: str = Field(min_length=1, max_length=128)
    password: Password


class UserUpdate(ProfileFields):
    name: Name | None = None
    role: Role | None = None
    is_active: bool | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    password: Password | None = None


class UserPage(BaseModel):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


PATIENT_FIELDS = ("date_of_birth", "patient_type", "preferred_language")
DOCTOR_FIELDS = (
    "specialty",
    "bio",
    "timezone",
    "consultation_minutes",
    "meet_url",
    "registration_number",
)


class ClinicalProfileIn(StrictModel):
    """The patient's clinical profile as the desk types it: only the fields sent change,
    and a field sent as null is cleared. A date of birth and an estimated age exclude each
    other: giving one forgets the other."""

    date_of_birth: date | None = None
    estimated_age: EstimatedAge | None = None
    sex: Sex | None = None
    national_id: IdNumber | None = None
    insurance_number: IdNumber | None = None
    next_of_kin_name: Name | None = None
    next_of_kin_phone: Phone | None = None


CLINICAL_FIELDS = tuple(ClinicalProfileIn.model_fields)


class ClinicalProfileOut(BaseModel):
    """The profile as `GET|PATCH /api/patients/{id}/profile` answers it."""

    model_config = ConfigDict(from_attributes=True)

    patient_id: uuid.UUID
    date_of_birth: date | None
    estimated_age: int | None
    age_label: str
    sex: Sex
    sex_label: str
    national_id: str | None
    insurance_number: str | None
    next_of_kin_name: str | None
    next_of_kin_phone: str | None
    version: int


class ClinicalProfileVersionOut(BaseModel):
    """One kept version of a profile: who changed which fields, and the values it then held."""

    model_config = ConfigDict(from_attributes=True)

    version: int
    changed_at: datetime
    changed_by_id: uuid.UUID | None
    fields: list[str]
    values: dict[str, object]


class MeUpdate(StrictModel):
    """What a patient changes about themself (`PUT /api/me`); a field left out is kept.

    The phone is how a patient signs in, so it can be changed but never removed; an email
    sent as null is removed."""

    name: Name | None = None
    phone: Phone | None = None
    email: EmailStr | None = None
    preferred_language: Language | None = None


@dataclass(frozen=True, slots=True)
class PatientProfileView:
    """A patient's clinical profile as other domains read it (the chart's header, the
    prescription paper). `age_label` is "34" for a known date of birth and "~40" for an
    estimate, both as of today's date on `core.clock`; "" when neither was given."""

    patient_id: uuid.UUID
    date_of_birth: date | None
    estimated_age: int | None
    age_years: int | None
    age_label: str
    sex: Sex
    national_id: str | None
    insurance_number: str | None
    next_of_kin_name: str | None
    next_of_kin_phone: str | None
    version: int

    @property
    def sex_label(self) -> str:
        return self.sex.label


@dataclass(frozen=True, slots=True)
class ProfileVersionView:
    """One kept version of a profile: the values it held once the change was made."""

    version: int
    changed_at: datetime
    changed_by_id: uuid.UUID | None
    fields: list[str]
    values: dict[str, object]
