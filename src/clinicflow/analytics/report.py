"""The weekly report every admin is e-mailed on Monday morning, clinic time: last week's main
figures as a PDF, with the same figures as CSV beside it (the page's CSV, so the numbers
agree with the analytics page to the digit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fpdf import FPDF

from clinicflow.analytics.schemas import Summary
from clinicflow.analytics.service import to_csv
from clinicflow.core.moments import format_day
from clinicflow.i18n import gettext_in

# Monday at this hour, clinic time, the week before is reported.
SEND_HOUR = 7


@dataclass(frozen=True)
class Week:
    first: date  # a Monday
    last: date  # the Sunday after

    @property
    def key(self) -> str:
        return self.first.isoformat()


def due_week(now: datetime, zone: ZoneInfo) -> Week | None:
    """The week to report now: the last whole week once this week's Monday has reached the
    sending hour, else none (a worker that was down on Monday sends it when it is back)."""
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    if local < datetime.combine(monday, time(SEND_HOUR), zone):
        return None
    return Week(first=monday - timedelta(days=7), last=monday - timedelta(days=1))


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _minutes(value: int | None) -> str:
    return "-" if value is None else str(value)


def _latin(text: str) -> str:
    """fpdf2's built-in fonts are Latin-1; Swahili and English fit, a stray sign does not."""
    return text.replace("\u2013", "-").encode("latin-1", "replace").decode("latin-1")


def figures(summary: Summary, language: str) -> list[tuple[str, str]]:
    """The report's main figures, labelled in the reader's language."""

    def _(text: str) -> str:
        return gettext_in(language, text)

    return [
        (_("Visits"), str(summary.visits)),
        (_("Walk-ins"), str(summary.walk_ins)),
        (_("Appointments"), str(summary.appointments)),
        (_("Completed"), str(summary.completed)),
        (_("No-show rate"), percent(summary.no_show_rate)),
        (_("Cancellation rate"), percent(summary.cancellation_rate)),
        (_("Wait, median (min)"), _minutes(summary.wait_minutes.p50)),
        (_("Wait, 90th percentile (min)"), _minutes(summary.wait_minutes.p90)),
        (_("Visit length, median (min)"), _minutes(summary.service_minutes.p50)),
        (_("New patients"), str(summary.new_patients)),
    ]


def anything_happened(summary: Summary) -> bool:
    """Whether the week saw a visit, a booking or a consultation."""
    return bool(
        summary.visits or summary.booked or summary.appointments or any(summary.by_type.values())
    )


def period_label(week: Week, language: str) -> str:
    """The week's first and last days (the clinic's) in the reader's words: 30 Nov 2026 -
    6 Des 2026."""
    return f"{format_day(week.first, language)} - {format_day(week.last, language)}"


def pdf(summary: Summary, *, clinic_name: str, week: Week, language: str) -> bytes:
    def _(text: str) -> str:
        return gettext_in(language, text)

    doc = FPDF(format="A4")
    doc.set_title(_latin(f"{clinic_name}: {_('Weekly report')} {period_label(week, language)}"))
    doc.add_page()
    doc.set_font("helvetica", "B", 16)
    doc.cell(0, 10, _latin(clinic_name), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("helvetica", "", 11)
    doc.cell(
        0,
        7,
        _latin(f"{_('Weekly report')}: {period_label(week, language)} ({summary.timezone})"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    doc.ln(4)
    for label, value in figures(summary, language):
        doc.set_font("helvetica", "", 11)
        doc.cell(90, 7, _latin(label))
        doc.set_font("helvetica", "B", 11)
        doc.cell(0, 7, value, new_x="LMARGIN", new_y="NEXT")
    if summary.by_doctor:
        doc.ln(4)
        doc.set_font("helvetica", "B", 12)
        doc.cell(0, 8, _latin(_("By doctor")), new_x="LMARGIN", new_y="NEXT")
        doc.set_font("helvetica", "", 10)
        for row in summary.by_doctor:
            doc.cell(80, 6, _latin(row.name))
            doc.cell(
                0,
                6,
                _latin(
                    f"{_('Visits')} {row.visits} · {_('Completed')} {row.completed} · "
                    f"{_('No-show rate')} {percent(row.no_show_rate)}"
                ),
                new_x="LMARGIN",
                new_y="NEXT",
            )
    return bytes(doc.output())


def csv_bytes(summary: Summary) -> bytes:
    return to_csv(summary).encode("utf-8")
