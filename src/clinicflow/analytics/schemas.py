"""The analytics API's shapes. `Summary` is fixed by issue 17 (more fields may be added)."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, Field


class WaitMinutes(BaseModel):
    p50: int | None
    p90: int | None
    over_30: int
    over_60: int


class ServiceMinutes(BaseModel):
    p50: int | None


class BucketFigures(BaseModel):
    start: date
    visits: int
    walk_ins: int
    completed: int
    no_shows: int
    wait_p50: int | None


class DoctorFigures(BaseModel):
    doctor_id: uuid.UUID
    name: str
    visits: int
    completed: int
    no_shows: int
    no_show_rate: float | None
    wait_p50: int | None
    wait_p90: int | None
    service_p50: int | None


class ChannelFigures(BaseModel):
    channel: str
    sent: int
    failed: int
    pending: int


class HeatCell(BaseModel):
    weekday: int  # 0 is Monday
    hour: int  # local hour in the clinic's zone
    arrivals: int


class Summary(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    bucket: str
    doctor_id: uuid.UUID | None
    timezone: str
    visits: int
    walk_ins: int
    check_ins: int
    appointments: int
    booked: int
    completed: int
    no_shows: int
    no_show_rate: float | None
    cancelled: int
    cancellation_rate: float | None
    late_cancellations: int
    requeues: int
    new_patients: int
    returning_patients: int
    assistant_questions: int
    by_type: dict[str, int]
    wait_minutes: WaitMinutes
    service_minutes: ServiceMinutes
    by_bucket: list[BucketFigures]
    by_doctor: list[DoctorFigures]
    heatmap: list[HeatCell]
    # Clinic-wide, so only in the clinic's view (no doctor chosen).
    notifications: list[ChannelFigures] | None

    model_config = {"populate_by_name": True}
