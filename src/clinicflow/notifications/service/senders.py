"""The process's sender: where a message goes that is not a row in the outbox table.

The sign-in code must go out at once and is never stored (it holds a secret), and a
waitlist offer is texted straight away: `send` hands the text to the process's sender once
the transaction commits. Identity's `CodeSender` is `CodeBySms`, wired in by the runtime,
so identity texts its code without importing notifications. Outside production the
sender is the development outbox.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.db import after_commit
from clinicflow.notifications.schemas import Channel
from clinicflow.notifications.service.channel_choice import ALLOWED_KEY
from clinicflow.notifications.service.send_limits import SEND_LIMITS_KEY, SendLimits
from clinicflow.notifications.templates import ALL_CHANNELS

log = structlog.get_logger(__name__)

SENDER_KEY = "clinicflow.notifications.sender"


@dataclass(frozen=True)
class SentMessage:
    to: str
    channel: Channel
    body: str
    sent_at: datetime

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["channel"] = self.channel.value
        data["sent_at"] = self.sent_at.isoformat()
        return data


class Sender(Protocol):
    async def deliver(self, *, to: str, channel: Channel, body: str) -> None: ...


class DevOutbox:
    """Keeps the newest messages in memory, for a developer (or a test) to read."""

    def __init__(self, size: int) -> None:
        self._messages: deque[SentMessage] = deque(maxlen=size)

    async def deliver(self, *, to: str, channel: Channel, body: str) -> None:
        self._messages.append(SentMessage(to=to, channel=channel, body=body, sent_at=clock.now()))

    def messages(self) -> list[SentMessage]:
        """Newest first."""
        return list(reversed(self._messages))


class LogOnlySender:
    async def deliver(self, *, to: str, channel: Channel, body: str) -> None:
        log.warning("notification.no_channel", channel=channel.value, to=mask(to))


def mask(address: str) -> str:
    return address[:4] + "…" + address[-2:] if len(address) > 6 else "…"


def session_info(
    sender: Sender,
    allowed: Iterable[Channel] = ALL_CHANNELS,
    send_limits: SendLimits | None = None,
) -> dict[str, Any]:
    """What the runtime puts into every session's `info`: the process's sender, the
    channels the clinic has switched on and the hourly send limits, so services need
    neither a global nor an extra argument through every call."""
    info: dict[str, Any] = {SENDER_KEY: sender, ALLOWED_KEY: frozenset(allowed)}
    if send_limits is not None:
        info[SEND_LIMITS_KEY] = send_limits
    return info


async def send(session: AsyncSession, *, to: str, channel: Channel, body: str) -> None:
    sender: Sender = session.info[SENDER_KEY]

    async def deliver() -> None:
        await sender.deliver(to=to, channel=channel, body=body)

    after_commit(session, deliver)


@dataclass(frozen=True)
class CodeBySms:
    """Identity's `CodeSender`: the sign-in code as an SMS through the process's sender."""

    sender: Sender

    async def send_code(self, *, phone: str, text: str) -> None:
        await self.sender.deliver(to=phone, channel=Channel.sms, body=text)
