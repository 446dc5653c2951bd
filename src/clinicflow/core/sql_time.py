"""Whole minutes between two instants, computed by the database on SQLite and PostgreSQL.

Reports count people in whole minutes and group rows by minute; doing that in SQL keeps a
year of visits in the database instead of in Python. SQLite has no interval type, so it
measures with `julianday` rounded to the millisecond; PostgreSQL with `extract(epoch …)`.
Both floor to the minute, so a wait of 29 min 59.9 s is 29 minutes on either.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, cast, extract, func
from sqlalchemy.sql.elements import ColumnElement


def milliseconds_between(start: Any, end: Any, dialect: str) -> ColumnElement[int]:
    """`end - start` in whole milliseconds (floored on PostgreSQL, rounded on SQLite,
    whose clock arithmetic is a double that cannot be floored exactly)."""
    if dialect == "sqlite":
        return cast(
            func.round((func.julianday(end) - func.julianday(start)) * 86_400_000), BigInteger
        )
    return cast(func.floor(extract("epoch", end - start) * 1000), BigInteger)


def minutes_between(start: Any, end: Any, dialect: str, per: int = 1) -> ColumnElement[int]:
    """Whole `per`-minute steps from `start` to `end` (non-negative spans)."""
    return milliseconds_between(start, end, dialect) // (60_000 * per)
