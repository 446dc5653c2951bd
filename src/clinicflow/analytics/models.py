"""Tables of the analytics domain: the daily roll-up, written only by its service.

A clinic day is a date in the clinic's time zone. Percentiles of several days cannot be
averaged, so each row keeps the whole distribution of its day's waits and service times
as a histogram of whole minutes (`{"minute": count}`); merging histograms is a sum,
and a percentile of the merge is exact (to the minute) for any range or bucket.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Integer
from sqlalchemy.orm import Mapped, mapped_column

from clinicflow.db import Base


class DailyFigures(Base):
    """One doctor's figures for one closed clinic day."""

    __tablename__ = "analytics_daily"

    day: Mapped[date] = mapped_column(primary_key=True)
    doctor_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    check_ins: Mapped[int] = mapped_column(Integer, default=0)
    walk_ins: Mapped[int] = mapped_column(Integer, default=0)
    requeues: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    no_shows: Mapped[int] = mapped_column(Integer, default=0)
    new_patients: Mapped[int] = mapped_column(Integer, default=0)
    returning_patients: Mapped[int] = mapped_column(Integer, default=0)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    due: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    late_cancelled: Mapped[int] = mapped_column(Integer, default=0)
    assistant_answers: Mapped[int] = mapped_column(Integer, default=0)
    # `{consultation type: count}`, `{local hour: arrivals}` and the two minute histograms.
    by_type: Mapped[dict[str, int]] = mapped_column(JSON)
    arrivals_by_hour: Mapped[dict[str, int]] = mapped_column(JSON)
    wait_minutes: Mapped[dict[str, int]] = mapped_column(JSON)
    service_minutes: Mapped[dict[str, int]] = mapped_column(JSON)


class RolledDay(Base):
    """A clinic day the roll-up has closed, with the clinic-wide figures that belong to no
    doctor (deliveries by channel). A day without this row is computed live."""

    __tablename__ = "analytics_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    deliveries: Mapped[dict[str, Any]] = mapped_column(JSON)
    rolled_at: Mapped[datetime]
