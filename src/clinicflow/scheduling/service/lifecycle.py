"""The appointment's lifecycle: which status may follow which, and the one function that
moves an appointment from one to the next.

A booking creates an appointment `booked`; `TRANSITIONS` below lists every move after that,
each with what makes it. `completed` and `cancelled` are final. Only scheduling changes
`appointment.status`, and only through `transition`: booking and cancelling are in
`appointments`, and the queue asks through the verbs in `visits`. So "when can an
appointment become X?" has one answer, the table.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.scheduling.models import Appointment
from clinicflow.scheduling.schemas import AppointmentStatus

S = AppointmentStatus

TRANSITIONS: Mapping[AppointmentStatus, frozenset[AppointmentStatus]] = {
    # Checked in on arrival, or cancelled beforehand.
    S.booked: frozenset({S.checked_in, S.cancelled}),
    # Called in by the doctor, missed their turn (skipped past the grace period), or
    # cancelled while waiting.
    S.checked_in: frozenset({S.in_consultation, S.no_show, S.cancelled}),
    # Finished; skipped during the visit and then past the grace period; or the call was
    # taken back (the queue's undo) to the patient waiting again.
    S.in_consultation: frozenset({S.completed, S.no_show, S.checked_in}),
    # Recalled by the doctor straight in, or given a new token for arriving late.
    S.no_show: frozenset({S.in_consultation, S.checked_in}),
    S.completed: frozenset(),
    S.cancelled: frozenset(),
}

# An appointment the patient may still change (cancel, reschedule) and that counts
# towards their limit of upcoming appointments.
LIVE = (S.booked, S.checked_in)
NOT_CANCELLED = Appointment.status != S.cancelled


def transition(
    appointment: Appointment,
    to: AppointmentStatus,
    *,
    only_from: Collection[AppointmentStatus] | None = None,
) -> None:
    """Move the appointment to `to`, or refuse with 409 `invalid_transition` when the table
    does not allow that move from where it is (staying put is a move too, and refused).

    `only_from` narrows where a verb's move may start, for a verb that is one particular
    way into a status: a re-admission makes a missed patient checked in, while a booked
    one is checked in by a check-in.
    """
    current = appointment.status
    if to not in TRANSITIONS[current] or (only_from is not None and current not in only_from):
        raise AppError(
            ErrorCode.invalid_transition,
            _("This appointment can no longer be changed."),
            {"status": current.value, "to": to.value},
        )
    appointment.status = to


async def upcoming_count(session: AsyncSession, patient_id: uuid.UUID) -> int:
    """The patient's live appointments yet to start: what `max_future_appointments` limits,
    both for booking and for whether a waitlist offer could be booked at all."""
    found = await session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status.in_(LIVE),
            Appointment.starts_at > clock.now(),
        )
    )
    return found or 0
