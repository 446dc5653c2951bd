"""API shapes of scheduling, its enums with their words, and the views other domains read.

Times in requests and answers are ISO 8601 with an offset. The enums live here rather than
in `models.py` because other domains and the pages use them; `models.py` imports them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from clinicflow.core.schemas import StrictModel
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import Timezone, no_control_characters


class AppointmentStatus(StrEnum):
    """Where an appointment is in its life; the moves between them are in
    `service.lifecycle.TRANSITIONS`."""

    booked = "booked"
    checked_in = "checked_in"
    in_consultation = "in_consultation"
    completed = "completed"
    cancelled = "cancelled"
    no_show = "no_show"

    @property
    def label(self) -> str:
        return {
            AppointmentStatus.booked: _("Booked"),
            AppointmentStatus.checked_in: _("Checked in"),
            AppointmentStatus.in_consultation: _("In consultation"),
            AppointmentStatus.completed: _("Completed"),
            AppointmentStatus.cancelled: _("Cancelled"),
            AppointmentStatus.no_show: _("Did not come"),
        }[self]


class Mode(StrEnum):
    online = "online"
    in_person = "in_person"

    @property
    def label(self) -> str:
        return {Mode.online: _("Online"), Mode.in_person: _("In person")}[self]


class WaitlistStatus(StrEnum):
    """An API value only (no page shows it), so it has no words of its own."""

    active = "active"
    fulfilled = "fulfilled"
    left = "left"
    expired = "expired"


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Interval = tuple[ClockTime, ClockTime]
Reason = Annotated[str, StringConstraints(max_length=500), AfterValidator(no_control_characters)]

YEARS = range(1900, 3000)


def in_calendar(value: datetime) -> datetime:
    """Refuse a time outside the years 1900-2999: far wider than any clinic's calendar, and
    far enough from datetime's own limits that converting it to UTC or adding a range of
    days never overflows (year 1 at +00:01 answered a 500)."""
    if value.year not in YEARS:
        raise ValueError(f"must be in the years {YEARS.start}-{YEARS.stop - 1}")
    return value


# A time in a request: with its offset (a time without one is ambiguous), and in range.
Instant = Annotated[AwareDatetime, AfterValidator(in_calendar)]


class ExceptionDay(StrictModel):
    date: date
    intervals: list[Interval] = Field(max_length=24)


class AvailabilityIn(StrictModel):
    timezone: Timezone
    slot_minutes: int | None = Field(default=None, ge=5, le=480)
    weekly: dict[Weekday, list[Interval]]
    exceptions: list[ExceptionDay] = Field(default_factory=list, max_length=366)


class AvailabilityOut(BaseModel):
    doctor_id: uuid.UUID
    timezone: str
    slot_minutes: int
    weekly: dict[str, list[Interval]]
    exceptions: list[ExceptionDay]


class DoctorOut(BaseModel):
    id: uuid.UUID
    name: str
    specialty: str
    bio: str
    timezone: str
    consultation_minutes: int


class SlotOut(BaseModel):
    starts_at: datetime
    ends_at: datetime


class SlotsOut(BaseModel):
    timezone: str
    slots: list[SlotOut]


class HoldIn(StrictModel):
    doctor_id: uuid.UUID
    starts_at: Instant
    patient_id: uuid.UUID | None = None


class HoldOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    doctor_id: uuid.UUID
    patient_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    expires_at: datetime


class AppointmentIn(StrictModel):
    doctor_id: uuid.UUID
    starts_at: Instant
    mode: Mode
    reason: Reason = ""
    hold_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None


class RescheduleIn(StrictModel):
    starts_at: Instant


class AppointmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    doctor_id: uuid.UUID
    patient_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    mode: Mode
    reason: str
    status: AppointmentStatus
    created_at: datetime
    cancelled_at: datetime | None
    late_arrivals: int = 0
    # Goes up with every change: what an offline client's change is checked against.
    version: int = 1


class AppointmentPage(BaseModel):
    items: list[AppointmentOut]
    next_cursor: str | None


class CalendarFeedOut(BaseModel):
    url: str


class WaitlistIn(StrictModel):
    """The doctor's first and last local day the patient could come (both included)."""

    doctor_id: uuid.UUID
    first_day: date = Field(alias="from")
    last_day: date = Field(alias="to")


class OfferOut(BaseModel):
    """A freed slot held for the patient until `expires_at`: book it with this `hold_id`."""

    hold_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    expires_at: datetime


class WaitlistEntryOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: uuid.UUID
    doctor_id: uuid.UUID
    patient_id: uuid.UUID
    first_day: date = Field(alias="from")
    last_day: date = Field(alias="to")
    status: WaitlistStatus
    created_at: datetime
    offer: OfferOut | None = None


class AppointmentView(BaseModel):
    """An appointment as another domain reads it: values, not the row, so that only
    scheduling's verbs change an appointment."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: uuid.UUID
    doctor_id: uuid.UUID
    patient_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    mode: Mode
    reason: str
    status: AppointmentStatus
    cancelled_at: datetime | None
    late_arrivals: int
    version: int = 1


class AvailabilityView(BaseModel):
    """A doctor's stored week as another domain reads it (the queue counts days in its zone)."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    doctor_id: uuid.UUID
    timezone: str
    slot_minutes: int
    weekly: dict[str, list[Interval]]
    exceptions: list[ExceptionDay]
