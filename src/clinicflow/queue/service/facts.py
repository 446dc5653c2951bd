"""Read-only figures about the queue for the analytics domain, aggregated in SQL.

Every figure is grouped by doctor over one window of instants (a clinic day, from the
analytics roll-up or its live view of today) and attributed to the instant the patient
joined the queue, so a patient who arrives at 23:50 and is called at 00:10 counts on the
day they arrived. Minutes are whole minutes, floored (`core.sql_time`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from clinicflow.core.sql_time import minutes_between
from clinicflow.db import UTCDateTime
from clinicflow.queue.models import QueueEntry
from clinicflow.queue.schemas import EntrySource, EntryStatus

QUARTER_MINUTES = 15


@dataclass
class QueueFacts:
    """One doctor's queue over one window. Histograms map whole minutes to a count of
    places; `arrivals_by_quarter` maps the quarter hour since the window's start."""

    doctor_id: uuid.UUID
    check_ins: int = 0
    walk_ins: int = 0
    requeues: int = 0
    completed: int = 0
    no_shows: int = 0
    new_patients: int = 0
    returning_patients: int = 0
    wait_minutes: dict[int, int] = field(default_factory=dict)
    service_minutes: dict[int, int] = field(default_factory=dict)
    arrivals_by_quarter: dict[int, int] = field(default_factory=dict)


def _in_window(
    start: datetime, end: datetime, doctor_id: uuid.UUID | None
) -> list[ColumnElement[bool]]:
    conditions = [QueueEntry.joined_at >= start, QueueEntry.joined_at < end]
    if doctor_id is not None:
        conditions.append(QueueEntry.doctor_id == doctor_id)
    return conditions


async def queue_facts(
    *, session: AsyncSession, start: datetime, end: datetime, doctor_id: uuid.UUID | None = None
) -> list[QueueFacts]:
    """Per doctor, the queue places that began in `[start, end)`: how they came, how they
    ended, how long they waited (joined to called) and were seen (called to finished)."""
    dialect = session.get_bind().dialect.name
    window = _in_window(start, end, doctor_id)
    facts: dict[uuid.UUID, QueueFacts] = defaultdict(lambda: QueueFacts(uuid.UUID(int=0)))

    def of(doctor: uuid.UUID) -> QueueFacts:
        found = facts[doctor]
        found.doctor_id = doctor
        return found

    def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count().filter(condition)

    totals = (
        select(
            QueueEntry.doctor_id,
            count_if(QueueEntry.source == EntrySource.check_in),
            count_if(QueueEntry.source == EntrySource.walk_in),
            count_if(QueueEntry.source == EntrySource.requeue),
            count_if(QueueEntry.status == EntryStatus.completed),
            count_if(QueueEntry.status == EntryStatus.no_show),
        )
        .where(*window)
        .group_by(QueueEntry.doctor_id)
    )
    for row in await session.execute(totals):
        found = of(row[0])
        (found.check_ins, found.walk_ins, found.requeues, found.completed, found.no_shows) = row[1:]

    wait = minutes_between(QueueEntry.joined_at, QueueEntry.called_at, dialect).label("m")
    waits = (
        select(QueueEntry.doctor_id, wait, func.count())
        .where(QueueEntry.called_at.is_not(None))
        .where(*window)
        .group_by(QueueEntry.doctor_id, wait)
    )
    for doctor, minutes, count in await session.execute(waits):
        of(doctor).wait_minutes[int(minutes)] = int(count)

    # The status is a FILTER, not a WHERE: in the WHERE, SQLite would walk the status
    # index over every completed place of all time instead of the day's range.
    served = (QueueEntry.duration_seconds // 60).label("m")
    services = (
        select(
            QueueEntry.doctor_id,
            served,
            count_if(QueueEntry.status == EntryStatus.completed),
        )
        .where(QueueEntry.duration_seconds.is_not(None))
        .where(*window)
        .group_by(QueueEntry.doctor_id, served)
    )
    for doctor, served_minutes, count in await session.execute(services):
        if count:
            of(doctor).service_minutes[int(served_minutes or 0)] = int(count)

    origin = literal(start, UTCDateTime())
    quarter = minutes_between(origin, QueueEntry.joined_at, dialect, QUARTER_MINUTES).label("q")
    arrivals = (
        select(QueueEntry.doctor_id, quarter, func.count())
        .where(QueueEntry.source != EntrySource.requeue)
        .where(*window)
        .group_by(QueueEntry.doctor_id, quarter)
    )
    for doctor, index, count in await session.execute(arrivals):
        of(doctor).arrivals_by_quarter[int(index)] = int(count)

    # New: the patient had no place with any doctor before this window.
    earlier = aliased(QueueEntry)
    seen_before = exists().where(
        and_(earlier.patient_id == QueueEntry.patient_id, earlier.joined_at < start)
    )
    patients = (
        select(
            QueueEntry.doctor_id,
            func.count(func.distinct(QueueEntry.patient_id)).filter(~seen_before),
            func.count(func.distinct(QueueEntry.patient_id)).filter(seen_before),
        )
        .where(QueueEntry.source != EntrySource.requeue)
        .where(*window)
        .group_by(QueueEntry.doctor_id)
    )
    for doctor, new, returning in await session.execute(patients):
        found = of(doctor)
        found.new_patients, found.returning_patients = int(new), int(returning)
    return sorted(facts.values(), key=lambda f: str(f.doctor_id))
