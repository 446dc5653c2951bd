"""One doctor's figures for one clinic day, the unit both the roll-up stores and the live
view of today computes: the two paths build the same `DayFigures` from the same facts
verbs, and the summary merges them the same way, so a day reads the same before and
after it is rolled up (a Hypothesis property in tests/analytics checks it).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.analytics.service.days import window
from clinicflow.consultations.service import facts as consultation_facts
from clinicflow.notifications.service import facts as delivery_facts
from clinicflow.queue.service import facts as queue_facts
from clinicflow.scheduling.service import facts as appointment_facts

COUNTS = (
    "check_ins",
    "walk_ins",
    "requeues",
    "completed",
    "no_shows",
    "new_patients",
    "returning_patients",
    "booked",
    "due",
    "cancelled",
    "late_cancelled",
    "assistant_answers",
)


@dataclass
class DayFigures:
    day: date
    doctor_id: uuid.UUID
    check_ins: int = 0
    walk_ins: int = 0
    requeues: int = 0
    completed: int = 0
    no_shows: int = 0
    new_patients: int = 0
    returning_patients: int = 0
    booked: int = 0
    due: int = 0
    cancelled: int = 0
    late_cancelled: int = 0
    assistant_answers: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    # Local hour of arrival ("0"–"23") → arrivals; string keys, as JSON stores them.
    arrivals_by_hour: dict[str, int] = field(default_factory=dict)
    wait_minutes: dict[int, int] = field(default_factory=dict)
    service_minutes: dict[int, int] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The values of its `analytics_daily` row."""
        values: dict[str, Any] = {name: getattr(self, name) for name in COUNTS}
        values.update(
            day=self.day,
            doctor_id=self.doctor_id,
            by_type=dict(sorted(self.by_type.items())),
            arrivals_by_hour=dict(sorted(self.arrivals_by_hour.items(), key=lambda kv: int(kv[0]))),
            wait_minutes={str(m): c for m, c in sorted(self.wait_minutes.items())},
            service_minutes={str(m): c for m, c in sorted(self.service_minutes.items())},
        )
        return values


async def compute_day(
    *,
    session: AsyncSession,
    day: date,
    zone: ZoneInfo,
    late_within_minutes: int,
    doctor_id: uuid.UUID | None = None,
) -> tuple[list[DayFigures], dict[str, dict[str, int]]]:
    """Every doctor's figures for one clinic day from the owning domains' facts, and the
    clinic's deliveries by channel that day."""
    start, end = window(day, zone)
    figures: dict[uuid.UUID, DayFigures] = {}

    def of(doctor: uuid.UUID) -> DayFigures:
        return figures.setdefault(doctor, DayFigures(day, doctor))

    for q in await queue_facts.queue_facts(
        session=session, start=start, end=end, doctor_id=doctor_id
    ):
        found = of(q.doctor_id)
        for name in (
            "check_ins",
            "walk_ins",
            "requeues",
            "completed",
            "no_shows",
            "new_patients",
            "returning_patients",
        ):
            setattr(found, name, getattr(q, name))
        found.wait_minutes = dict(q.wait_minutes)
        found.service_minutes = dict(q.service_minutes)
        hours: Counter[str] = Counter()
        for quarter, count in q.arrivals_by_quarter.items():
            at = start + timedelta(minutes=queue_facts.QUARTER_MINUTES * quarter)
            hours[str(at.astimezone(zone).hour)] += count
        found.arrivals_by_hour = dict(hours)
    for a in await appointment_facts.appointment_facts(
        session=session,
        start=start,
        end=end,
        late_within_minutes=late_within_minutes,
        doctor_id=doctor_id,
    ):
        found = of(a.doctor_id)
        found.booked, found.due, found.cancelled = a.booked, a.due, a.cancelled
        found.late_cancelled = a.late_cancelled
    for c in await consultation_facts.consultation_facts(
        session=session, start=start, end=end, doctor_id=doctor_id
    ):
        found = of(c.doctor_id)
        found.by_type = dict(c.by_type)
        found.assistant_answers = c.assistant_answers
    deliveries = await delivery_facts.delivery_facts(session=session, start=start, end=end)
    return sorted(figures.values(), key=lambda f: str(f.doctor_id)), deliveries
