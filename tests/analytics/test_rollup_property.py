"""Property: for any day, the roll-up stores what the live computation shows.

Hypothesis writes a day of one doctor's queue: patients who walk in one after another,
each seen (after a wait, for a time) or missed. The day is read live while it is still
today, then again after midnight once the roll-up has closed it; the two must be the same
summary, and its percentiles must be those of the raw minutes the test chose.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinicflow.identity.schemas import Role
from tests.analytics.day import ClinicDay

# One patient: minutes after the previous patient left, minutes waited, minutes with the
# doctor (None: not there when called).
patient = st.tuples(
    st.integers(min_value=0, max_value=30),
    st.integers(min_value=0, max_value=90),
    st.one_of(st.none(), st.integers(min_value=0, max_value=40)),
)


def nearest_rank(values: list[int], fraction: float) -> int | None:
    if not values:
        return None
    return sorted(values)[max(1, math.ceil(fraction * len(values))) - 1]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(day_plan=st.lists(patient, min_size=0, max_size=6), start_minute=st.integers(0, 240))
async def test_rolled_up_equals_live(
    day: ClinicDay, day_plan: list[tuple[int, int, int | None]], start_minute: int
) -> None:
    # Each example gets its own clinic day (Nairobi, UTC+3) and its own doctor.
    day.phones += 100
    clinic_day = date(2026, 4, 1) + timedelta(days=day.phones // 100)
    midnight = datetime(clinic_day.year, clinic_day.month, clinic_day.day, tzinfo=UTC) - timedelta(
        hours=3
    )
    doctor = await day.doctor()
    admin = await day.accounts.make(Role.admin)
    now = midnight + timedelta(minutes=start_minute)
    waits, services = [], []
    for gap, wait, service in day_plan:
        now += timedelta(minutes=gap, seconds=7)
        entry = await day.walk_in(doctor, now)
        now += timedelta(minutes=wait, seconds=3)
        assert await day.call(doctor, now) == entry
        waits.append(wait)
        if service is None:
            now += timedelta(seconds=30)
            await day.no_show(doctor, entry, now)
        else:
            now += timedelta(minutes=service, seconds=11)
            await day.finish(doctor, entry, now)
            services.append(service)
    await day.sweep(now + timedelta(minutes=11))

    # Still today (the last minute of the clinic day): computed live.
    await day.at(midnight + timedelta(hours=23, minutes=59))
    live = await day.summary(admin, clinic_day, clinic_day, doctor_id=doctor.id)
    # The next morning, closed and rolled up.
    await day.at(midnight + timedelta(days=1, hours=6))
    await day.roll_up(clinic_day)
    rolled = await day.summary(admin, clinic_day, clinic_day, doctor_id=doctor.id)

    assert rolled == live
    assert live["visits"] == len(day_plan)
    assert live["completed"] == len(services)
    assert live["no_shows"] == len(day_plan) - len(services)
    assert live["wait_minutes"]["p50"] == nearest_rank(waits, 0.5)
    assert live["wait_minutes"]["p90"] == nearest_rank(waits, 0.9)
    assert live["wait_minutes"]["over_30"] == sum(w >= 30 for w in waits)
    assert live["service_minutes"]["p50"] == nearest_rank(services, 0.5)
