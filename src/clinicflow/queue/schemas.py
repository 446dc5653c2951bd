"""The queue's JSON shapes and its enums. `id`, `token`, `status`, `position`,
`estimated_wait_minutes` on an entry and `serving_token` on a queue are fixed by the HTTP
contract.

The enums live here, not in `models.py`, so that pages, other domains and the API shapes can
name a status without importing tables; each carries the words a person reads (`label`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from clinicflow.core.schemas import StrictModel
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import (
    ClinicalProfileIn,
    MeetUrl,
    Name,
    PatientType,
    Phone,
    no_control_characters,
)


class Severity(StrEnum):
    emergency = "emergency"
    urgent = "urgent"
    routine = "routine"

    @property
    def label(self) -> str:
        """The words a person reads, in their language."""
        return {
            Severity.emergency: _("Emergency"),
            Severity.urgent: _("Urgent"),
            Severity.routine: _("Routine"),
        }[self]


class EntryStatus(StrEnum):
    """Where a place in the queue stands; the moves between these are in
    `service/lifecycle.py`."""

    waiting = "waiting"
    in_consultation = "in_consultation"
    # Called and not there, or not there when nearly called: the place is kept for the
    # clinic's grace period, then the entry becomes `no_show`.
    skipped = "skipped"
    no_show = "no_show"
    completed = "completed"

    @property
    def label(self) -> str:
        """The words a person reads, in their language."""
        return {
            EntryStatus.waiting: _("Waiting"),
            EntryStatus.in_consultation: _("In consultation"),
            EntryStatus.skipped: _("Missed their turn"),
            EntryStatus.no_show: _("Did not come"),
            EntryStatus.completed: _("Seen"),
        }[self]


class EntrySource(StrEnum):
    """How a place was taken. Shown to nobody (only the API carries it), so it has no label."""

    check_in = "check_in"
    walk_in = "walk_in"
    requeue = "requeue"


Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(no_control_characters),
]
Weight = Annotated[float, Field(ge=-1000, le=1000)]


class CheckInIn(StrictModel):
    """`appointment_id` (the contract), or the short `code` from the appointment's QR."""

    appointment_id: uuid.UUID | None = None
    code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] | None = None


class WalkInIn(StrictModel):
    doctor_id: uuid.UUID
    phone: Phone
    name: Name
    severity: Severity = Severity.routine
    patient_type: PatientType | None = None
    # Recorded on the patient's profile by identity (date of birth or estimated age, sex,
    # numbers, next of kin); the fields left out are kept as they are.
    profile: ClinicalProfileIn | None = None


class MoveIn(StrictModel):
    before_entry_id: uuid.UUID
    reason: Reason


class RequeueIn(StrictModel):
    reason: Reason | None = None


class MeetLinkIn(StrictModel):
    meet_url: MeetUrl | None


class MeetLinkOut(BaseModel):
    doctor_id: uuid.UUID
    meet_url: str | None
    told: int


class EntryOut(BaseModel):
    id: uuid.UUID
    token: int
    status: EntryStatus
    position: int | None
    estimated_wait_minutes: int | None
    estimated_at: datetime | None
    severity: Severity
    patient_type: PatientType
    source: EntrySource
    doctor_id: uuid.UUID
    date: date
    patient_id: uuid.UUID
    patient_name: str | None
    appointment_id: uuid.UUID | None
    consultation_id: uuid.UUID | None
    online: bool
    joined_at: datetime
    ready_at: datetime | None
    called_at: datetime | None
    skipped_at: datetime | None
    finished_at: datetime | None


class QueueOut(BaseModel):
    doctor_id: uuid.UUID
    date: date
    revision: int
    serving_token: int | None
    waiting_count: int
    paused: bool
    doctor_away: bool
    average_minutes: float
    order: list[int]
    entries: list[EntryOut]


class BoardRowOut(BaseModel):
    """One doctor on the public waiting-room screen: no patient is named."""

    doctor_id: uuid.UUID
    doctor_name: str
    date: date
    revision: int
    serving_token: int | None
    waiting_count: int
    paused: bool
    doctor_away: bool


class MyEntryOut(EntryOut):
    """A place of mine, with its queue's state around it."""

    doctor_name: str
    serving_token: int | None
    waiting_count: int
    paused: bool
    doctor_away: bool
    meet_url: str | None


class ReassignmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    old_entry_id: uuid.UUID
    new_entry_id: uuid.UUID
    old_token: int
    new_token: int
    reason: str
    at: datetime


class RulesIn(StrictModel):
    severity_weights: dict[Severity, Weight] = Field(default_factory=dict)
    patient_type_weights: dict[PatientType, Weight] = Field(default_factory=dict)
    late_appointment_bonus: Weight = 0.0
    aging_weight_per_minute: Annotated[float, Field(ge=0, le=100)] = 0.0
    no_show_grace_minutes: Annotated[int, Field(ge=0, le=240)] = 10
    check_in_window_minutes: Annotated[int, Field(ge=0, le=720)] = 60


class RulesOut(RulesIn):
    model_config = ConfigDict(extra="ignore")

    version: int
    updated_at: datetime | None
    updated_by_id: uuid.UUID | None
