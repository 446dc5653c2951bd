"""The life of a place in the queue: which status may follow which, and the one function that
changes an entry's status.

Every write of `QueueEntry.status` goes through `transition`, so `TRANSITIONS` is the whole
answer to "how can a place become <status>?". A move the table does not hold is refused with
409 `invalid_transition` rather than written. A new place is not a move: it starts `START`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import audit
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.queue.models import QueueEntry
from clinicflow.queue.schemas import EntryStatus
from clinicflow.queue.service.refusals import already_in_queue, conflict

E = EntryStatus

START = E.waiting
"""Every place starts waiting: a walk-in, a check-in, or a new token after a missed turn."""

# An entry in one of these still holds its place in the day's queue (the partial unique
# index `uq_queue_entries_queue_id_patient_id_active` lists the same statuses).
ACTIVE = (E.waiting, E.in_consultation, E.skipped)

# Each status and the statuses it may move to, with the verbs that make each move. Undo
# puts back the status an entry had before the doctor's last call or no-show, whatever has
# become of it since, within the undo window; a re-admitted patient either takes their place
# back (skipped -> waiting) or gets a new place, which starts at `START`.
TRANSITIONS: dict[EntryStatus, frozenset[EntryStatus]] = {
    E.waiting: frozenset(
        {
            # call next; undo of a called patient's no-show once they took their place back
            E.in_consultation,
            # no-show: the doctor skips a patient who is not there
            E.skipped,
            # cancel: staff cancel the token of a patient who has left
            E.no_show,
        }
    ),
    E.in_consultation: frozenset(
        {
            # finish
            E.completed,
            # no-show of the called patient; undo of a recall of a skipped patient
            E.skipped,
            # undo of a call
            E.waiting,
            # undo of a recall of a no-show
            E.no_show,
        }
    ),
    E.skipped: frozenset(
        {
            # recall; undo of a called patient's no-show
            E.in_consultation,
            # the place taken back within the grace period (arrival, new token); undo of a
            # no-show
            E.waiting,
            # the grace period is over: the worker's sweep, or a late arrival; cancel
            E.no_show,
        }
    ),
    E.no_show: frozenset(
        {
            # recall
            E.in_consultation,
            # undo of a no-show the sweep has already expired (a grace period shorter than
            # the undo window)
            E.waiting,
        }
    ),
    E.completed: frozenset(),
}


def transition(entry: QueueEntry, to: EntryStatus) -> None:
    """Move `entry` to `to`, or refuse a move the table does not hold."""
    if to not in TRANSITIONS[entry.status]:
        raise _refused(entry, to.value)
    entry.status = to


def require_status(entry: QueueEntry, *allowed: EntryStatus, to: str) -> None:
    """Refuse `to` unless the entry is in one of `allowed`: for verbs that change no status
    (ready, move, requeue) or that allow less than the table (recall)."""
    if entry.status not in allowed:
        raise _refused(entry, to)


async def require_no_other_place(session: AsyncSession, entry: QueueEntry) -> None:
    """Refuse (409 `already_in_queue`) to bring a no-show back into the queue (recalled, or
    its no-show undone) once its patient has a new token: they would hold two places, which
    the "one active place per patient" index forbids, so the new token stands."""
    other = await session.scalar(
        select(QueueEntry.token)
        .where(
            QueueEntry.queue_id == entry.queue_id,
            QueueEntry.patient_id == entry.patient_id,
            QueueEntry.status.in_(ACTIVE),
            QueueEntry.id != entry.id,
        )
        .limit(1)
    )
    if other is not None:
        raise already_in_queue(token=other)


def _refused(entry: QueueEntry, to: str) -> AppError:
    return conflict(
        ErrorCode.invalid_transition,
        _("This patient's place cannot make that change now."),
        status=entry.status.value,
        to=to,
    )


async def audit_entry(
    session: AsyncSession, actor: Actor, action: str, entry: QueueEntry, **details: object
) -> None:
    """The audit row of a change to one place in a queue (`queue.<action>`); every such row
    names the place's token, so the desk's paper and the log can be matched."""
    await audit.record(
        session,
        action=f"queue.{action}",
        resource_type="queue_entry",
        resource_id=entry.id,
        actor=actor,
        details={"token": entry.token, **details},
    )
