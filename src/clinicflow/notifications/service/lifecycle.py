"""The life of one delivery: its statuses and the only moves between them.

A delivery starts `pending` (the in-app one starts `sent`: the row itself is the message).
A claim does not change the status: it counts the attempt and leases the row
(`next_attempt_at` a lease ahead), so a claimed row is still `pending` or `failed`, and
comes due again if its worker dies. Then:

    pending -> sent | failed | gave_up    the provider answered: took it, failed, refused
    failed  -> sent | failed | gave_up    the same, on a retry
    failed  -> pending                    an admin's "Retry now"
    gave_up -> pending                    an admin's "Retry now"
    gave_up -> sent                       a success reported after the row gave up (kept:
                                          the message did go out)
    sent    -> (nothing)                  final

The dispatcher moves rows with conditional UPDATEs (`dispatch.py`: its WHERE names the
statuses a move starts from, so two workers never both move a row) and they keep to this
table; a verb that moves one loaded row goes through `move`, which refuses anything else.
"""

from __future__ import annotations

from collections.abc import Mapping

from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.notifications.models import Delivery
from clinicflow.notifications.schemas import DeliveryStatus

TRANSITIONS: Mapping[DeliveryStatus, frozenset[DeliveryStatus]] = {
    DeliveryStatus.pending: frozenset(
        {DeliveryStatus.sent, DeliveryStatus.failed, DeliveryStatus.gave_up}
    ),
    DeliveryStatus.failed: frozenset(
        {DeliveryStatus.sent, DeliveryStatus.failed, DeliveryStatus.gave_up, DeliveryStatus.pending}
    ),
    DeliveryStatus.gave_up: frozenset({DeliveryStatus.sent, DeliveryStatus.pending}),
    DeliveryStatus.sent: frozenset(),
}

DUE = (DeliveryStatus.pending, DeliveryStatus.failed)
"""The statuses the dispatcher claims (once `next_attempt_at` has come)."""


def may_move(current: DeliveryStatus, to: DeliveryStatus) -> bool:
    return to in TRANSITIONS[current]


def move(delivery: Delivery, to: DeliveryStatus, *, refusal: str) -> None:
    """Move a loaded delivery to `to`, or refuse with 409 `invalid_transition` and
    `refusal`, the words the person who asked reads."""
    if not may_move(delivery.status, to):
        raise AppError(ErrorCode.invalid_transition, refusal, {"status": delivery.status.value})
    delivery.status = to
