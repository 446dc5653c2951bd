"""Clinic days as windows of instants, and the buckets a summary groups them in.

A clinic day runs from local midnight to the next local midnight in the clinic's zone, so
a day across a daylight-saving change is 23 or 25 hours long; the windows are computed
here, in Python, and handed to the other domains' facts verbs, which aggregate in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from clinicflow.core import clock


class Bucket(StrEnum):
    day = "day"
    week = "week"
    month = "month"


def window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """`[start, end)` in UTC of the clinic day `day`."""
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def today(zone: ZoneInfo) -> date:
    """The clinic's date now."""
    return clock.now().astimezone(zone).date()


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def bucket_start(day: date, bucket: Bucket) -> date:
    """The first day of the bucket holding `day`: itself, its Monday, or the 1st."""
    if bucket is Bucket.week:
        return day - timedelta(days=day.weekday())
    if bucket is Bucket.month:
        return day.replace(day=1)
    return day
