"""The confirm page of a held time, shared by the patient and the desk: what it shows, and
booking from its form (the page again with a refusal, or the week when the time is gone)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.scheduling import schemas
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.models import Appointment
from clinicflow.scheduling.pages import formatting
from clinicflow.scheduling.schemas import Mode
from clinicflow.web.templating import refusal_page, render

_reason = TypeAdapter(schemas.Reason)
# Refusals after which the week is shown again, so the patient can pick another time.
PICK_AGAIN = frozenset({ErrorCode.slot_taken, ErrorCode.slot_unavailable})

ConfirmContext = Callable[..., Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class HeldSlot:
    starts_at: str  # ISO, posted back by the confirm form
    local_day: date
    day: str
    times: str
    zone: str
    until: str | None  # when the hold ends, in the doctor's zone
    # Seconds the hold has left as the page is drawn: the page counts down from this on its
    # own timer, so a phone whose clock is wrong still shows the right time left.
    seconds_left: int = 0


@dataclass(frozen=True)
class RefusalPage:
    """Where a refusal is shown: a template and what draws it (read after the rollback)."""

    template: str
    context: Callable[[], Awaitable[dict[str, Any]]]


async def held(
    session: AsyncSession, doctor_id: uuid.UUID, starts: datetime, ends: datetime, until: datetime
) -> HeldSlot:
    # An unknown doctor is still refused (404); the times are on the clinic's clock.
    await scheduling.get_availability(session=session, doctor_id=doctor_id)
    timezone = await formatting.clinic_zone(session)
    zone = ZoneInfo(timezone)
    return HeldSlot(
        starts_at=starts.astimezone(UTC).isoformat(),
        local_day=starts.astimezone(zone).date(),
        day=formatting.full_day_label(starts.astimezone(zone).date()),
        times=formatting.times(starts, ends, zone),
        zone=formatting.zone_label(timezone, starts),
        until=formatting.clock_time(until, zone),
        seconds_left=max(0, int((until - clock.now()).total_seconds())),
    )


def _reason_error() -> str:
    return _("Write the reason in plain text, at most 500 characters.")


def _held_until(value: str | None, starts: datetime) -> datetime:
    """The hold's end as the confirm form carried it (display only), else the slot's start."""
    try:
        parsed = datetime.fromisoformat(value) if value else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or parsed.year not in schemas.YEARS:
        return starts
    return parsed


async def book_from_form(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    user: Actor,
    *,
    doctor_id: uuid.UUID,
    patient_id: uuid.UUID | None,
    starts_at: datetime,
    mode: Mode,
    reason: str,
    held_until: str | None,
    confirm_context: ConfirmContext,
    pick_again: RefusalPage,
    booked_url: Callable[[Appointment], str],
) -> Response:
    """Book from a confirm form, for the patient or the desk: the confirm page again with
    the refusal, or `pick_again` (the week) when the time is gone, or on to `booked_url`.
    `confirm_context(ends, until, **extra)` builds that page for whoever is booking."""

    async def confirm_again() -> dict[str, Any]:
        availability = await scheduling.get_availability(session=session, doctor_id=doctor_id)
        ends = starts_at + timedelta(minutes=availability.slot_minutes)
        return await confirm_context(
            ends, _held_until(held_until, starts_at), mode=mode.value, reason=reason
        )

    try:
        checked_reason = _reason.validate_python(reason.strip())
    except ValidationError:
        context = {**await confirm_again(), "error": _reason_error()}
        return render(request, "scheduling/confirm.html", context, status_code=422)
    try:
        appointment = await scheduling.book(
            session=session,
            settings=settings,
            actor=user,
            doctor_id=doctor_id,
            starts_at=starts_at,
            mode=mode,
            reason=checked_reason,
            patient_id=patient_id,
        )
    except AppError as exc:
        confirm_page = RefusalPage("scheduling/confirm.html", confirm_again)
        page = pick_again if exc.code in PICK_AGAIN else confirm_page
        return await refusal_page(request, session, exc, page.template, page.context)
    return RedirectResponse(booked_url(appointment), status_code=303)
