"""How a moment is written for a person: in the clinic's zone, the reader's language, 24 hours.

Times are stored in UTC, but a person reads them on the clinic's clock (docs/core.md), so
one event never has two dates: a prescription issued at 21:05 UTC on 5 December is dated
6 December 00:05 in Nairobi on the page, in the PDF and in the SMS alike. This is the one
place that writes a moment; pages use the `moment` filter (web/templating.py) built on it,
and PDFs, notifications and jobs, which run outside a request, call `format_moment` with the
clinic's zone and the reader's language. It lives in core so every domain may use it.

Babel gives the words (month and weekday names, the order of day and month); the clock is
always 24-hour, which Swahili readers expect and which reads the same in English.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_date, get_datetime_format

from clinicflow import i18n
from clinicflow.i18n import gettext as _

Style = Literal["time", "seconds", "date", "day", "datetime", "full"]
"""time `00:05`; seconds `00:05:09`; date `6 Des 2026`; day `Jumapili 6 Desemba`;
datetime `6 Des 2026 00:05`; full `6 Des 2026 00:05:09` (logs, where order matters)."""

STYLES: tuple[Style, ...] = ("time", "seconds", "date", "day", "datetime", "full")

_CLOCK = {"time": "%H:%M", "seconds": "%H:%M:%S", "datetime": "%H:%M", "full": "%H:%M:%S"}


def local(at: datetime, zone: str | ZoneInfo) -> datetime:
    """The moment on the zone's clock. A naive value is a stored UTC one (SQLite drops the
    offset), never the server's local time."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone))


def format_moment(
    at: datetime,
    zone: str | ZoneInfo,
    language: str | None = None,
    style: Style = "datetime",
) -> str:
    """`at` written on the clinic's clock (`zone`) in `language` (the current one when left
    out), in one of the `STYLES`."""
    locale = language if language in i18n.LANGUAGES else i18n.current_language()
    moment = local(at, zone)
    if style == "date":
        return format_day(moment.date(), locale, "medium")
    if style == "day":
        return format_day(moment.date(), locale, "EEEE d MMMM")
    clock = moment.strftime(_CLOCK[style])
    if style in ("time", "seconds"):
        return clock
    day = format_day(moment.date(), locale, "medium")
    # The locale's own way of joining a date and a time ("{1}, {0}" in English, "{1} {0}").
    return str(get_datetime_format("medium", locale=locale)).format(clock, day)


def format_day(day: date, language: str | None = None, pattern: str = "medium") -> str:
    """A calendar day (already on the clinic's clock, like a follow-up date) in `language`."""
    locale = language if language in i18n.LANGUAGES else i18n.current_language()
    return format_date(day, pattern, locale=locale)


def format_duration(seconds: int) -> str:
    """A length of time as a reader says it ("4 min 12 s", "1 h 5 min"), in the current
    language: a call's, in the record. Past an hour the seconds no longer matter."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    if minutes:
        return _("%(minutes)d min %(seconds)d s") % {
            "minutes": minutes,
            "seconds": seconds,
        }
    return _("%(seconds)d s") % {"seconds": seconds}
