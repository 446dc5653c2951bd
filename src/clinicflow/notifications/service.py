"""The one way to send a message to a person.

Messages are handed to the configured sender only after the caller's transaction commits,
so nobody is told about something that was rolled back. Until real channels exist, the
development sender keeps the last messages in memory for `/dev/outbox`, and production
only logs that a message would have gone out (never its body, which may hold a code).
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.db import after_commit

log = structlog.get_logger(__name__)


class Channel(StrEnum):
    sms = "sms"
    email = "email"


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
        log.warning("notification.no_channel", channel=channel.value, to=_mask(to))


def _mask(address: str) -> str:
    return address[:4] + "…" + address[-2:] if len(address) > 6 else "…"


SENDER_KEY = "clinicflow.notifications.sender"


def session_info(sender: Sender) -> dict[str, Any]:
    """What the runtime puts into every session's `info`, so that `send` finds the
    process's sender without a global or an extra argument through every service."""
    return {SENDER_KEY: sender}


async def send(session: AsyncSession, *, to: str, channel: Channel, body: str) -> None:
    sender: Sender = session.info[SENDER_KEY]

    async def deliver() -> None:
        await sender.deliver(to=to, channel=channel, body=body)

    after_commit(session, deliver)
