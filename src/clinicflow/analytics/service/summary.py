"""The summary of a range of clinic days: closed days from the roll-up, the rest live.

Days the roll-up has closed are summed by the database from `analytics_daily` (`stored`);
today (and any closed day the job has not reached yet) is computed from the facts verbs,
which is the same computation the roll-up stores. Counts add up; waits are merged as histograms and a
percentile is read off the merge (nearest rank, whole minutes), so it is exact for any
range, bucket or doctor, never an average of daily percentiles.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.analytics.models import RolledDay
from clinicflow.analytics.schemas import (
    BucketFigures,
    ChannelFigures,
    DoctorFigures,
    HeatCell,
    ServiceMinutes,
    Summary,
    WaitMinutes,
)
from clinicflow.analytics.service import stored
from clinicflow.analytics.service.days import Bucket, bucket_start, days, today
from clinicflow.analytics.service.figures import COUNTS, DayFigures, compute_day
from clinicflow.clinic.schemas import ClinicProfile
from clinicflow.identity import service as identity

TYPES = ("in_person", "chat", "audio", "video")
CHANNELS = ("in_app", "sms", "push", "email")


def percentile(histogram: dict[int, int], fraction: float) -> int | None:
    """The smallest minute at or below which `fraction` of the counted people fall
    (nearest rank); None when nobody was counted."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for minute in sorted(histogram):
        seen += histogram[minute]
        if seen >= rank:
            return minute
    raise AssertionError("unreachable: the ranks add up to the total")


def _add(into: dict[int, int], histogram: dict[int, int]) -> None:
    for minute, count in histogram.items():
        into[minute] = into.get(minute, 0) + count


def _merge(histograms: Iterable[dict[int, int]]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for histogram in histograms:
        _add(merged, histogram)
    return merged


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def live_days(
    *,
    session: AsyncSession,
    clinic: ClinicProfile,
    first: date,
    last: date,
    doctor_id: uuid.UUID | None,
) -> tuple[list[DayFigures], dict[date, dict[str, dict[str, int]]]]:
    """The doctor-days of `[first, last]` the roll-up has not stored (today, and any closed
    day the job has not reached), computed now; and every day's deliveries."""
    rolled_days = select(RolledDay.day, RolledDay.deliveries).where(
        RolledDay.day >= first, RolledDay.day <= last
    )
    deliveries = {day: value for day, value in await session.execute(rolled_days)}
    figures: list[DayFigures] = []
    now = today(clinic.zone)
    for day in days(first, min(last, now)):
        if day in deliveries and day < now:
            continue
        live, sent = await compute_day(
            session=session,
            day=day,
            zone=clinic.zone,
            late_within_minutes=clinic.cancellation_window_minutes,
            doctor_id=doctor_id,
        )
        figures.extend(live)
        deliveries[day] = sent
    return figures, deliveries


async def summary(
    *,
    session: AsyncSession,
    clinic: ClinicProfile,
    first: date,
    last: date,
    bucket: Bucket,
    doctor_id: uuid.UUID | None,
    clinic_wide: bool,
) -> Summary:
    """The figures of `[first, last]` for one doctor or all (`access.scope` decides which
    the actor may ask for); `clinic_wide` adds the clinic's deliveries by channel."""
    figures, deliveries = await live_days(
        session=session, clinic=clinic, first=first, last=last, doctor_id=doctor_id
    )
    scope: dict[str, Any] = {
        "session": session,
        "first": first,
        "last": last,
        "doctor_id": doctor_id,
    }

    # Stored days arrive summed by the database (`stored`); live days are added here.
    bucket_counts: dict[date, Counter[str]] = defaultdict(Counter)
    bucket_waits: dict[date, dict[int, int]] = defaultdict(dict)
    doctor_counts: dict[uuid.UUID, Counter[str]] = defaultdict(Counter)
    doctor_waits: dict[uuid.UUID, dict[int, int]] = defaultdict(dict)
    doctor_services: dict[uuid.UUID, dict[int, int]] = defaultdict(dict)
    by_type: Counter[str] = Counter({kind: 0 for kind in TYPES})
    heat: Counter[tuple[int, int]] = Counter()

    for day, sums in (await stored.counts(**scope, group="day")).items():
        bucket_counts[bucket_start(day, bucket)].update(sums)
    for doctor, sums in (await stored.counts(**scope, group="doctor_id")).items():
        doctor_counts[doctor].update(sums)
    for day, minute, count in await stored.histogram(**scope, measure="wait_minutes", group="day"):
        _add(bucket_waits[bucket_start(day, bucket)], {minute: count})
    for doctor, minute, count in await stored.histogram(
        **scope, measure="wait_minutes", group="doctor_id"
    ):
        _add(doctor_waits[doctor], {minute: count})
    for doctor, minute, count in await stored.histogram(
        **scope, measure="service_minutes", group="doctor_id"
    ):
        _add(doctor_services[doctor], {minute: count})
    for _day, kind, count in await stored.keyed(**scope, measure="by_type"):
        by_type[kind] += count
    for day, hour, count in await stored.keyed(**scope, measure="arrivals_by_hour"):
        heat[(day.weekday(), int(hour))] += count

    for f in figures:
        start = bucket_start(f.day, bucket)
        counts = {name: getattr(f, name) for name in COUNTS}
        bucket_counts[start].update(counts)
        doctor_counts[f.doctor_id].update(counts)
        _add(bucket_waits[start], f.wait_minutes)
        _add(doctor_waits[f.doctor_id], f.wait_minutes)
        _add(doctor_services[f.doctor_id], f.service_minutes)
        by_type.update(f.by_type)
        for hour, count in f.arrivals_by_hour.items():
            heat[(f.day.weekday(), int(hour))] += count

    totals: Counter[str] = Counter()
    for counts in bucket_counts.values():
        totals.update(counts)
    waits = _merge(bucket_waits.values())
    completed, no_shows = totals["completed"], totals["no_shows"]
    appointments, cancelled = totals["due"], totals["cancelled"]

    by_bucket = [
        BucketFigures(
            start=start,
            visits=counts["check_ins"] + counts["walk_ins"],
            walk_ins=counts["walk_ins"],
            completed=counts["completed"],
            no_shows=counts["no_shows"],
            wait_p50=percentile(bucket_waits[start], 0.5),
        )
        for start, counts in sorted(bucket_counts.items())
    ]

    names = await identity.names(session, doctor_counts)
    by_doctor = []
    for doctor, counts in doctor_counts.items():
        done, missed = counts["completed"], counts["no_shows"]
        by_doctor.append(
            DoctorFigures(
                doctor_id=doctor,
                name=names.get(doctor, ""),
                visits=counts["check_ins"] + counts["walk_ins"],
                completed=done,
                no_shows=missed,
                no_show_rate=_rate(missed, done + missed),
                wait_p50=percentile(doctor_waits[doctor], 0.5),
                wait_p90=percentile(doctor_waits[doctor], 0.9),
                service_p50=percentile(doctor_services[doctor], 0.5),
            )
        )
    by_doctor.sort(key=lambda d: (d.name, str(d.doctor_id)))

    notifications = None
    if clinic_wide:
        channels: dict[str, Counter[str]] = {channel: Counter() for channel in CHANNELS}
        for day_deliveries in deliveries.values():
            for channel, outcomes in day_deliveries.items():
                channels.setdefault(channel, Counter()).update(outcomes)
        notifications = [
            ChannelFigures(
                channel=channel,
                sent=outcomes["sent"],
                failed=outcomes["failed"],
                pending=outcomes["pending"],
            )
            for channel, outcomes in channels.items()
        ]

    return Summary(
        from_=first,
        to=last,
        bucket=bucket.value,
        doctor_id=doctor_id,
        timezone=clinic.timezone,
        visits=totals["check_ins"] + totals["walk_ins"],
        walk_ins=totals["walk_ins"],
        check_ins=totals["check_ins"],
        appointments=appointments,
        booked=totals["booked"],
        completed=completed,
        no_shows=no_shows,
        no_show_rate=_rate(no_shows, completed + no_shows),
        cancelled=cancelled,
        cancellation_rate=_rate(cancelled, appointments),
        late_cancellations=totals["late_cancelled"],
        requeues=totals["requeues"],
        new_patients=totals["new_patients"],
        returning_patients=totals["returning_patients"],
        assistant_questions=totals["assistant_answers"],
        by_type=dict(by_type),
        wait_minutes=WaitMinutes(
            p50=percentile(waits, 0.5),
            p90=percentile(waits, 0.9),
            over_30=sum(c for m, c in waits.items() if m >= 30),
            over_60=sum(c for m, c in waits.items() if m >= 60),
        ),
        service_minutes=ServiceMinutes(p50=percentile(_merge(doctor_services.values()), 0.5)),
        by_bucket=by_bucket,
        by_doctor=by_doctor,
        heatmap=[
            HeatCell(weekday=weekday, hour=hour, arrivals=count)
            for (weekday, hour), count in sorted(heat.items())
        ],
        notifications=notifications,
    )
