"""The summary as CSV: the same numbers as the JSON, one per line.

A summary holds several tables of different shapes, so the CSV is long-form —
`section,key,metric,value` — which any spreadsheet pivots and a test compares with the
JSON line by line. A page's chart links to its own section (`?section=by_bucket`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from clinicflow.analytics.schemas import Summary

HEADER = ("section", "key", "metric", "value")
SECTIONS = (
    "summary",
    "wait_minutes",
    "service_minutes",
    "by_type",
    "by_bucket",
    "by_doctor",
    "heatmap",
    "notifications",
)
TOTALS = (
    "visits",
    "walk_ins",
    "check_ins",
    "appointments",
    "booked",
    "completed",
    "no_shows",
    "no_show_rate",
    "cancelled",
    "cancellation_rate",
    "late_cancellations",
    "requeues",
    "new_patients",
    "returning_patients",
    "assistant_questions",
)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def rows(summary: Summary) -> Iterator[tuple[str, str, str, str]]:
    """Every number of the summary as `(section, key, metric, value)`."""
    for name in TOTALS:
        yield "summary", "", name, _cell(getattr(summary, name))
    for name, value in summary.wait_minutes.model_dump().items():
        yield "wait_minutes", "", name, _cell(value)
    yield "service_minutes", "", "p50", _cell(summary.service_minutes.p50)
    for kind, count in summary.by_type.items():
        yield "by_type", "", kind, _cell(count)
    for bucket in summary.by_bucket:
        for name, value in bucket.model_dump(exclude={"start"}).items():
            yield "by_bucket", bucket.start.isoformat(), name, _cell(value)
    for doctor in summary.by_doctor:
        for name, value in doctor.model_dump(exclude={"doctor_id"}).items():
            yield "by_doctor", str(doctor.doctor_id), name, _cell(value)
    for cell in summary.heatmap:
        yield "heatmap", f"{cell.weekday}:{cell.hour}", "arrivals", _cell(cell.arrivals)
    for channel in summary.notifications or []:
        for name, value in channel.model_dump(exclude={"channel"}).items():
            yield "notifications", channel.channel, name, _cell(value)


def to_csv(summary: Summary, section: str | None = None) -> str:
    """The CSV text, all sections or one."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(row for row in rows(summary) if section in (None, row[0]))
    return out.getvalue()
