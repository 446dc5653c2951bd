"""Sums over the stored roll-up, computed by the database.

A year of a busy clinic is ~11,000 doctor-days. Reading them into Python and decoding their
histograms costs seconds; adding them up in the database costs far less. Counts are plain
`SUM … GROUP BY`; the histograms and the keyed counts are `{key: count}` JSON objects in
the row, spread into `(key, value)` rows by the database's own JSON function (`json_each`
on SQLite, `json_each_text` on PostgreSQL; an object rather than a list of pairs, so no
element is parsed twice) and summed the same way. Only the sums reach Python.
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
    return [
        (g, int(key), count)
        for g, key, count in await _spread(session, measure, group, first, last, doctor_id)
    ]


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
    return await _spread(session, measure, "day", first, last, doctor_id)


async def _spread(
    session: AsyncSession,
    measure: str,
    group: Group,
    first: date,
    last: date,
    doctor_id: uuid.UUID | None,
) -> list[tuple[Any, str, int]]:
    spread = "json_each" if session.get_bind().dialect.name == "sqlite" else "json_each_text"
    statement = text(
        f"SELECT d.{group} AS g, j.key AS k, SUM(CAST(j.value AS INTEGER)) AS c "  # noqa: S608 - names are fixed above
        f"FROM analytics_daily AS d, {spread}(d.{measure}) AS j "
        f"WHERE {_where(doctor_id)} GROUP BY d.{group}, j.key"
    ).columns(column("g", GROUP_TYPES[group]), column("k", String()), column("c", Integer()))
    rows = await session.execute(_bind(statement, doctor_id), _params(first, last, doctor_id))
    return [(g, str(k), int(c)) for g, k, c in rows]
