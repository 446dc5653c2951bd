"""Sums over the stored roll-up, computed by the database.

A year of a busy clinic is ~11,000 doctor-days. Reading them into Python and decoding their
histograms costs seconds; adding them up in SQL costs tens of milliseconds. Counts are
plain `SUM … GROUP BY`; the histograms and the keyed counts are JSON in the row, spread
into rows by the database's own JSON functions (`json_each` on SQLite; on PostgreSQL
`json_array_elements` for the `[[minute, count], …]` histograms and `json_each_text` for
the `{key: count}` objects) and summed the same way. Only the sums reach Python.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from sqlalchemy import Date, Integer, String, Uuid, bindparam, column, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from clinicflow.analytics.models import DailyFigures
from clinicflow.analytics.service.figures import COUNTS

Group = Literal["day", "doctor_id"]
HISTOGRAMS = ("wait_minutes", "service_minutes")
KEYED = ("by_type", "arrivals_by_hour")
GROUP_TYPES: dict[str, Any] = {"day": Date(), "doctor_id": Uuid()}


def _where(doctor_id: uuid.UUID | None) -> str:
    return "d.day >= :first AND d.day <= :last" + (
        " AND d.doctor_id = :doctor" if doctor_id is not None else ""
    )


def _params(first: date, last: date, doctor_id: uuid.UUID | None) -> dict[str, Any]:
    params: dict[str, Any] = {"first": first, "last": last}
    if doctor_id is not None:
        params["doctor"] = doctor_id
    return params


def _bind(statement: Any, doctor_id: uuid.UUID | None) -> Any:
    binds: list[BindParameter[Any]] = [
        bindparam("first", type_=Date()),
        bindparam("last", type_=Date()),
    ]
    if doctor_id is not None:
        binds.append(bindparam("doctor", type_=Uuid()))
    return statement.bindparams(*binds)


async def counts(
    *, session: AsyncSession, first: date, last: date, doctor_id: uuid.UUID | None, group: Group
) -> dict[Any, dict[str, int]]:
    """`{day or doctor: {count name: sum}}` over the stored days of `[first, last]`."""
    key = getattr(DailyFigures, group)
    statement = select(key, *(func.sum(getattr(DailyFigures, name)) for name in COUNTS)).where(
        DailyFigures.day >= first, DailyFigures.day <= last
    )
    if doctor_id is not None:
        statement = statement.where(DailyFigures.doctor_id == doctor_id)
    rows = await session.execute(statement.group_by(key))
    return {
        row[0]: {name: int(value or 0) for name, value in zip(COUNTS, row[1:], strict=True)}
        for row in rows
    }


async def histogram(
    *,
    session: AsyncSession,
    measure: str,
    first: date,
    last: date,
    doctor_id: uuid.UUID | None,
    group: Group,
) -> list[tuple[Any, int, int]]:
    """`(day or doctor, minute, count)` summed over the stored days of `[first, last]`."""
    if measure not in HISTOGRAMS:
        raise ValueError(measure)
    spread = "json_each" if session.get_bind().dialect.name == "sqlite" else "json_array_elements"
    statement = text(
        f"SELECT d.{group} AS g, CAST(j.value ->> 0 AS INTEGER) AS m, "  # noqa: S608 - names are fixed above
        f"SUM(CAST(j.value ->> 1 AS INTEGER)) AS c "
        f"FROM analytics_daily AS d, {spread}(d.{measure}) AS j "
        f"WHERE {_where(doctor_id)} GROUP BY d.{group}, CAST(j.value ->> 0 AS INTEGER)"
    ).columns(column("g", GROUP_TYPES[group]), column("m", Integer()), column("c", Integer()))
    rows = await session.execute(_bind(statement, doctor_id), _params(first, last, doctor_id))
    return [(g, int(m), int(c)) for g, m, c in rows]


async def keyed(
    *,
    session: AsyncSession,
    measure: str,
    first: date,
    last: date,
    doctor_id: uuid.UUID | None,
) -> list[tuple[date, str, int]]:
    """`(day, key, count)` of a `{key: count}` column summed over the stored days."""
    if measure not in KEYED:
        raise ValueError(measure)
    spread = "json_each" if session.get_bind().dialect.name == "sqlite" else "json_each_text"
    statement = text(
        f"SELECT d.day AS g, j.key AS k, SUM(CAST(j.value AS INTEGER)) AS c "  # noqa: S608 - names are fixed above
        f"FROM analytics_daily AS d, {spread}(d.{measure}) AS j "
        f"WHERE {_where(doctor_id)} GROUP BY d.day, j.key"
    ).columns(column("g", Date()), column("k", String()), column("c", Integer()))
    rows = await session.execute(_bind(statement, doctor_id), _params(first, last, doctor_id))
    return [(g, str(k), int(c)) for g, k, c in rows]
