"""One way to write a moment for a person (core/moments.py): on the clinic's clock, in the
reader's language, 24-hour; the same moment gives the same day in every style."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from clinicflow import i18n
from clinicflow.core.moments import STYLES, format_day, format_moment, local

# 21:05 UTC on 5 December is 00:05 on 6 December in Nairobi (UTC+3).
LATE = datetime(2026, 12, 5, 21, 5, 9, tzinfo=UTC)
NAIROBI = "Africa/Nairobi"


def test_a_late_utc_moment_is_the_next_day_on_the_clinics_clock() -> None:
    assert format_moment(LATE, NAIROBI, "sw") == "6 Des 2026 00:05"
    assert format_moment(LATE, NAIROBI, "en") == "Dec 6, 2026, 00:05"
    assert format_moment(LATE, NAIROBI, "sw", "date") == "6 Des 2026"
    assert format_moment(LATE, NAIROBI, "sw", "day") == "Jumapili 6 Desemba"
    assert format_moment(LATE, NAIROBI, "en", "day") == "Sunday 6 December"
    assert format_moment(LATE, NAIROBI, "sw", "time") == "00:05"
    assert format_moment(LATE, NAIROBI, "sw", "seconds") == "00:05:09"
    assert format_moment(LATE, NAIROBI, "sw", "full") == "6 Des 2026 00:05:09"


def test_the_clock_is_24_hour_in_every_language() -> None:
    afternoon = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    for language in i18n.LANGUAGES:
        written = format_moment(afternoon, "UTC", language)
        assert "14:30" in written
        assert "PM" not in written
        assert "AM" not in written


def test_the_language_defaults_to_the_current_one() -> None:
    i18n.set_language("sw")
    try:
        assert format_moment(LATE, NAIROBI) == "6 Des 2026 00:05"
        assert format_day(LATE.date()) == "5 Des 2026"
    finally:
        i18n.set_language("en")


def test_a_naive_stored_value_is_utc_never_the_servers_zone() -> None:
    naive = LATE.replace(tzinfo=None)
    assert format_moment(naive, NAIROBI, "en") == format_moment(LATE, NAIROBI, "en")
    assert local(naive, ZoneInfo(NAIROBI)).hour == 0


ZONES = st.sampled_from(["UTC", NAIROBI, "America/New_York", "Asia/Kolkata", "Pacific/Chatham"])
MOMENTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(at=MOMENTS, zone=ZONES, language=st.sampled_from(sorted(i18n.LANGUAGES)))
def test_every_style_names_the_same_day_and_time_as_the_zones_clock(
    at: datetime, zone: str, language: str
) -> None:
    """Property: whatever the moment, zone and language, the words are the zone's wall
    clock (the day and the HH:MM), so a page, a PDF and an SMS cannot disagree."""
    wall = at.astimezone(ZoneInfo(zone))
    assert format_moment(at, zone, language, "time") == f"{wall:%H:%M}"
    assert format_moment(at, zone, language, "seconds") == f"{wall:%H:%M:%S}"
    day = format_day(wall.date(), language)
    assert format_moment(at, zone, language, "date") == day
    written = format_moment(at, zone, language, "datetime")
    assert written.startswith(day)
    assert written.endswith(f"{wall:%H:%M}")
    for style in STYLES:
        assert not re.search(r"\b[AP]M\b", format_moment(at, zone, language, style))
