"""What the booking pages' queries and forms accept, and how a date in one is read."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import Form, Query

from clinicflow.scheduling import schemas

SearchQuery = Annotated[str | None, Query(max_length=100)]
DateQuery = Annotated[str | None, Query(max_length=10)]
StartsAt = Annotated[schemas.Instant, Form()]
ReasonField = Annotated[str, Form(max_length=2000)]
# `?block=week_grid` asks a week page for its week of free times alone (`week.week_block`).
WeekBlock = Annotated[Literal["week_grid"] | None, Query()]


def parse_date(value: str | None) -> date | None:
    """A date from a query or form field; anything unreadable, or outside the calendar
    requests may name (`schemas.YEARS`, where a week's arithmetic cannot overflow), means
    "not given"."""
    try:
        parsed = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.year in schemas.YEARS else None
