"""What every channel adapter shares: the answer (`Sent`), the failure (`DeliveryFailed`,
with the provider's status code and the start of its answer, which the attempt log
keeps), and the rule for which HTTP statuses are worth retrying.

Kept apart from `channels.py` so an adapter in a module of its own (Africa's Talking)
and `channels.build`, which chooses among them, do not import each other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from clinicflow.notifications.service.dispatch import Outgoing

PROVIDER_TIMEOUT_SECONDS = 15.0
# Statuses after which the same request may well succeed later.
RETRYABLE_STATUSES = frozenset({408, 425, 429})
# How much of a provider's answer a failure keeps (logs, the deliveries page).
ANSWER_EXCERPT = 300


class DeliveryFailed(Exception):
    """The provider did not take the message. `permanent`: trying again cannot help (a
    number it refuses). `status_code` is the provider's HTTP status (None when it was not
    reached); `error` names the provider and holds the start of its answer."""

    def __init__(
        self,
        error: str,
        *,
        permanent: bool = False,
        gone: Sequence[str] = (),
        status_code: int | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.permanent = permanent
        self.gone = tuple(gone)
        self.status_code = status_code


@dataclass(frozen=True)
class Sent:
    """A provider took the message: its id for it, and any push endpoints it said are
    gone on the way (a person's other browser may still have taken the message)."""

    provider_id: str
    gone: tuple[str, ...] = ()


class ChannelSender(Protocol):
    async def send(self, message: Outgoing) -> Sent: ...


def text_of(message: Outgoing) -> str:
    """The text an SMS or a log line carries: the title, then the body."""
    return f"{message.title}: {message.body}" if message.title else message.body


def permanent_status(status: int) -> bool:
    """A 4xx other than the few that mean "later" will be refused again."""
    return 400 <= status < 500 and status not in RETRYABLE_STATUSES
