"""The doctor's weekly schedule: hours per weekday written as `08:00–12:00, 14:00–17:00`,
the slot length, the zone and dated exceptions, with a refusal shown at its field."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from clinicflow.core.errors import AppError
from clinicflow.deps import CsrfProtected, PageUser, Session
from clinicflow.i18n import gettext as _
from clinicflow.routing import TransactionalRoute
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.pages.formatting import RANGE_SEPARATOR
from clinicflow.scheduling.slots import WEEKDAYS
from clinicflow.web.templating import refusal_page, render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

DayField = Annotated[str, Form(max_length=500)]
_RANGE = re.compile(r"^(\d{1,2})[:.](\d{2})\s*(?:-|–|—|to)\s*(\d{1,2})[:.](\d{2})$")


def _parse_ranges(text: str) -> list[tuple[str, str]]:
    """Parse a day's hours: "08:00–12:00, 14:00-18:00" -> [("08:00", "12:00"), ("14:00", "18:00")]."""
    pairs = []
    for chunk in re.split(r"[,;\n]+", text):
        chunk = chunk.strip()
        if not chunk:
            continue
        match = _RANGE.match(chunk)
        if match is None:
            raise ValueError(chunk)
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError(chunk)
        pairs.append((f"{h1:02d}:{m1:02d}", f"{h2:02d}:{m2:02d}"))
    return pairs


def _parse_exceptions(text: str) -> list[dict[str, Any]]:
    """One date a line, alone for a day off or followed by that day's own hours."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        day, _sep, hours = line.partition(" ")
        found.append({"date": date.fromisoformat(day), "intervals": _parse_ranges(hours)})
    return found


def _show_ranges(pairs: Sequence[Sequence[str]]) -> str:
    return ", ".join(f"{start}{RANGE_SEPARATOR}{end}" for start, end in pairs)


def _show_exceptions(items: Sequence[dict[str, Any]]) -> str:
    lines = []
    for item in sorted(items, key=lambda entry: str(entry["date"])):
        hours = _show_ranges(item["intervals"])
        lines.append(f"{item['date']} {hours}".strip())
    return "\n".join(lines)


def _error_field(field: object) -> str | None:
    """The form field a service refusal points at ("weekly.mon[1]" -> "weekly_mon")."""
    if not isinstance(field, str):
        return None
    if field.startswith("weekly."):
        day = re.split(r"[.\[]", field)[1]
        return f"weekly_{day}" if day in WEEKDAYS else None
    if field.startswith("exceptions"):
        return "exceptions"
    if field in ("timezone", "slot_minutes"):
        return field
    return None


@cache
def _timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def _schedule_context(values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    day_names = {
        "mon": _("Monday"),
        "tue": _("Tuesday"),
        "wed": _("Wednesday"),
        "thu": _("Thursday"),
        "fri": _("Friday"),
        "sat": _("Saturday"),
        "sun": _("Sunday"),
    }
    return {
        "values": values,
        "errors": errors,
        "days": [(f"weekly_{day}", day_names[day]) for day in WEEKDAYS],
        "timezones": _timezones(),
    }


@router.get("/schedule")
async def schedule(
    request: Request, session: Session, user: PageUser, saved: bool = False
) -> Response:
    row = await scheduling.get_availability(session=session, doctor_id=user.id)
    values = {
        "timezone": row.timezone,
        "slot_minutes": str(row.slot_minutes),
        "exceptions": _show_exceptions(row.exceptions),
        **{f"weekly_{day}": _show_ranges(row.weekly.get(day, [])) for day in WEEKDAYS},
    }
    notice = _("Your week is saved. Patients see the new times now.") if saved else None
    return render(
        request, "scheduling/schedule.html", {**_schedule_context(values, {}), "notice": notice}
    )


@router.post("/schedule", dependencies=[CsrfProtected])
async def save_schedule(
    request: Request,
    session: Session,
    user: PageUser,
    timezone: Annotated[str, Form(max_length=64)],
    slot_minutes: Annotated[str, Form(max_length=6)] = "",
    exceptions: Annotated[str, Form(max_length=20000)] = "",
    weekly_mon: DayField = "",
    weekly_tue: DayField = "",
    weekly_wed: DayField = "",
    weekly_thu: DayField = "",
    weekly_fri: DayField = "",
    weekly_sat: DayField = "",
    weekly_sun: DayField = "",
) -> Response:
    days = dict(
        zip(
            WEEKDAYS,
            (weekly_mon, weekly_tue, weekly_wed, weekly_thu, weekly_fri, weekly_sat, weekly_sun),
            strict=True,
        )
    )
    values = {
        "timezone": timezone.strip(),
        "slot_minutes": slot_minutes.strip(),
        "exceptions": exceptions,
        **{f"weekly_{day}": text for day, text in days.items()},
    }
    errors: dict[str, str] = {}
    weekly: dict[str, list[tuple[str, str]]] = {}
    for day, text in days.items():
        try:
            pairs = _parse_ranges(text)
        except ValueError:
            errors[f"weekly_{day}"] = _("Write hours like 08:00–12:00, separated by commas.")
            continue
        if pairs:
            weekly[day] = pairs
    minutes: int | None = None
    if values["slot_minutes"]:
        if values["slot_minutes"].isdigit():
            minutes = int(values["slot_minutes"])
        else:
            errors["slot_minutes"] = _("Write the slot length as a number of minutes.")
    try:
        dated = _parse_exceptions(exceptions)
    except ValueError:
        errors["exceptions"] = _(
            "Write one date a line: 2026-12-25 for a day off, or 2026-12-24 09:00–12:00 for other hours."
        )
        dated = []
    if errors:
        context = _schedule_context(values, errors)
        message = _("Some fields need a fix; they are marked below.")
        return render(
            request, "scheduling/schedule.html", {**context, "error": message}, status_code=422
        )
    try:
        await scheduling.set_availability(
            session=session,
            actor=user,
            doctor_id=user.id,
            timezone=values["timezone"],
            slot_minutes=minutes,
            weekly=weekly,
            exceptions=dated,
        )
    except AppError as exc:
        field = _error_field(exc.details.get("field"))
        marked = {field: exc.message} if field else {}

        async def form_again() -> dict[str, Any]:
            return _schedule_context(values, marked)

        return await refusal_page(request, session, exc, "scheduling/schedule.html", form_again)
    return RedirectResponse("/schedule?saved=1", status_code=303)
