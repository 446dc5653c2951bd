"""The queue's JSON shapes. `id`, `token`, `status`, `position`, `estimated_wait_minutes`
on an entry and `serving_token` on a queue are fixed by the HTTP contract."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from clinicflow.identity.models import PatientType
from clinicflow.identity.schemas import MeetUrl, Name, Phone, no_control_characters
from clinicflow.queue import priority
from clinicflow.queue.models import EntrySource, EntryStatus, QueueEntry, Severity

Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(no_control_characters),
]
Weight = Annotated[float, Field(ge=-1000, le=1000)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


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

    def to_rules(self) -> priority.Rules:
        """Weights not named keep their default (nothing), so a partial body is complete."""
        defaults = priority.Rules()
        return priority.Rules(
            severity_weights={
                **defaults.severity_weights,
                **{k.value: v for k, v in self.severity_weights.items()},
            },
            patient_type_weights={
                **defaults.patient_type_weights,
                **{k.value: v for k, v in self.patient_type_weights.items()},
            },
            late_appointment_bonus=self.late_appointment_bonus,
            aging_weight_per_minute=self.aging_weight_per_minute,
            no_show_grace_minutes=self.no_show_grace_minutes,
            check_in_window_minutes=self.check_in_window_minutes,
        )


class RulesOut(RulesIn):
    model_config = ConfigDict(extra="ignore")

    version: int
    updated_at: datetime | None
    updated_by_id: uuid.UUID | None


def entry_out(
    entry: QueueEntry,
    *,
    position: int | None,
    average_minutes: float,
    now: datetime,
    patient_name: str | None,
) -> EntryOut:
    minutes = None if position is None else round(position * average_minutes)
    return EntryOut(
        id=entry.id,
        token=entry.token,
        status=entry.status,
        position=position,
        estimated_wait_minutes=minutes,
        estimated_at=None if minutes is None else now + timedelta(minutes=minutes),
        severity=entry.severity,
        patient_type=entry.patient_type,
        source=entry.source,
        doctor_id=entry.doctor_id,
        date=entry.day,
        patient_id=entry.patient_id,
        patient_name=patient_name,
        appointment_id=entry.appointment_id,
        consultation_id=entry.consultation_id,
        online=entry.online,
        joined_at=entry.joined_at,
        ready_at=entry.ready_at,
        called_at=entry.called_at,
        skipped_at=entry.skipped_at,
        finished_at=entry.finished_at,
    )
