"""The figures of days built by hand, against numbers worked out on paper.

Nairobi (UTC+3, no daylight saving): the clinic day 2026-03-02 runs from 2026-03-01 21:00
to 2026-03-02 21:00 UTC, so a patient who walks in at 23:50 local is that day's, and one
at 00:10 the next day's. London on 2026-03-29 (clocks go forward at 01:00 UTC): the day
is 23 hours long, from 00:00 to 23:00 UTC, and 02:30 local is an hour after 00:30 local.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from clinicflow.config import Settings
from clinicflow.identity.schemas import Role
from tests.analytics.day import ClinicDay


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


D = date(2026, 3, 2)
NEXT = date(2026, 3, 3)


async def build_nairobi_day(day: ClinicDay) -> tuple[object, object]:
    doctor = await day.doctor(bookable=True)
    a = await day.book(doctor, utc("2026-03-02 11:00"), utc("2026-03-02 09:00"))
    b = await day.book(doctor, utc("2026-03-02 11:15"), utc("2026-03-02 09:00:10"))
    c = await day.book(doctor, utc("2026-03-02 11:30"), utc("2026-03-02 09:00:20"))
    await day.cancel(b, utc("2026-03-02 09:05"))  # 130 min before: on time
    await day.cancel(c, utc("2026-03-02 10:50"))  # 40 min before a 60 min cut-off: late
    entry_a = await day.check_in(a, utc("2026-03-02 10:55"))  # 13:55 local
    assert await day.call(doctor, utc("2026-03-02 11:07")) == entry_a  # waited 12
    await day.finish(doctor, entry_a, utc("2026-03-02 11:20"))  # seen 13
    w1 = await day.walk_in(doctor, utc("2026-03-02 11:21"))  # 14:21 local
    w2 = await day.walk_in(doctor, utc("2026-03-02 11:22"))
    assert await day.call(doctor, utc("2026-03-02 11:56")) == w1  # waited 35
    await day.finish(doctor, w1, utc("2026-03-02 12:00:30"))  # seen 4 (4.5 floored)
    assert await day.call(doctor, utc("2026-03-02 12:00:40")) == w2  # waited 38
    await day.no_show(doctor, w2, utc("2026-03-02 12:02"))
    await day.sweep(utc("2026-03-02 12:30"))
    w3 = await day.walk_in(doctor, utc("2026-03-02 20:50"))  # 23:50 local, day D
    assert await day.call(doctor, utc("2026-03-02 20:58")) == w3  # waited 8
    await day.finish(doctor, w3, utc("2026-03-02 21:20"))  # 00:20 local next day; seen 22
    w4 = await day.walk_in(doctor, utc("2026-03-02 21:10"))  # 00:10 local, day D+1
    assert await day.call(doctor, utc("2026-03-02 21:25")) == w4  # waited 15
    return doctor, w4


async def test_a_nairobi_day_across_midnight(day: ClinicDay) -> None:
    await build_nairobi_day(day)
    admin = await day.accounts.make(Role.admin)
    await day.at(utc("2026-03-03 06:00"))

    live = await day.summary(admin, D, D)
    assert live["visits"] == 4
    assert live["walk_ins"] == 3
    assert live["check_ins"] == 1
    assert live["completed"] == 3
    assert live["no_shows"] == 1
    assert live["no_show_rate"] == 0.25
    assert (live["appointments"], live["booked"], live["cancelled"]) == (3, 3, 2)
    assert live["late_cancellations"] == 1
    assert live["cancellation_rate"] == pytest.approx(2 / 3, abs=1e-4)
    # Waits 8, 12, 35, 38: nearest rank p50 is the 2nd, p90 the 4th.
    assert live["wait_minutes"] == {"p50": 12, "p90": 38, "over_30": 2, "over_60": 0}
    assert live["service_minutes"] == {"p50": 13}  # of 4, 13, 22
    assert live["new_patients"] == 4
    assert live["returning_patients"] == 0
    assert live["by_bucket"] == [
        {
            "start": "2026-03-02",
            "visits": 4,
            "walk_ins": 3,
            "completed": 3,
            "no_shows": 1,
            "wait_p50": 12,
        }
    ]
    assert [(c["weekday"], c["hour"], c["arrivals"]) for c in live["heatmap"]] == [
        (0, 13, 1),
        (0, 14, 2),
        (0, 23, 1),
    ]

    # The next day holds only the 00:10 walk-in (called after 15 minutes).
    both = await day.summary(admin, D, NEXT)
    assert [(b["start"], b["visits"], b["wait_p50"]) for b in both["by_bucket"]] == [
        ("2026-03-02", 4, 12),
        ("2026-03-03", 1, 15),
    ]
    # Waits 8, 12, 15, 35, 38 over both days: not an average of the two days' medians.
    assert both["wait_minutes"]["p50"] == 15
    assert both["wait_minutes"]["p90"] == 38

    # Rolled up, the closed day reads the same.
    await day.roll_up(D)
    assert await day.summary(admin, D, D) == live
    await day.roll_up(D)  # again: replaced, not doubled
    assert await day.summary(admin, D, NEXT) == both


class TestLondonSpringForward:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"clinic_timezone": "Europe/London"})

    async def test_a_23_hour_day(self, day: ClinicDay) -> None:
        assert day.zone == "Europe/London"
        doctor = await day.doctor()
        admin = await day.accounts.make(Role.admin)
        first = await day.walk_in(doctor, utc("2026-03-29 00:30"))  # 00:30 GMT
        assert await day.call(doctor, utc("2026-03-29 00:40")) == first  # waited 10
        await day.finish(doctor, first, utc("2026-03-29 00:50"))
        second = await day.walk_in(doctor, utc("2026-03-29 01:30"))  # 02:30 BST
        # 50 minutes by the clock on the wall (02:30 → 03:20), 50 in fact.
        assert await day.call(doctor, utc("2026-03-29 02:20")) == second
        await day.finish(doctor, second, utc("2026-03-29 02:45"))
        late = await day.walk_in(doctor, utc("2026-03-29 22:45"))  # 23:45 BST, still the 29th
        assert await day.call(doctor, utc("2026-03-29 22:50")) == late  # waited 5
        await day.finish(doctor, late, utc("2026-03-29 22:58"))
        await day.walk_in(doctor, utc("2026-03-29 23:15"))  # 00:15 BST on the 30th
        await day.at(utc("2026-03-30 09:00"))

        sunday = date(2026, 3, 29)
        live = await day.summary(admin, sunday, sunday)
        assert live["visits"] == 3
        assert live["completed"] == 3
        assert live["wait_minutes"] == {"p50": 10, "p90": 50, "over_30": 1, "over_60": 0}
        assert [(c["weekday"], c["hour"], c["arrivals"]) for c in live["heatmap"]] == [
            (6, 0, 1),
            (6, 2, 1),
            (6, 23, 1),
        ]
        monday = await day.summary(admin, date(2026, 3, 30), date(2026, 3, 30))
        assert monday["visits"] == 1
        assert [(c["weekday"], c["hour"]) for c in monday["heatmap"]] == [(0, 0)]
        await day.roll_up(sunday)
        assert await day.summary(admin, sunday, sunday) == live
