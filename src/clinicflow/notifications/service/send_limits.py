"""How many SMS, email and push messages one person, and one phone number or address, is
sent per hour.

Every such message costs the clinic money (SMS) or a person's attention, and the things
that cause them (a booking, a cancellation, a queue move) are in other people's hands too.
So past the budget a notification keeps its in-app copy alone: it is still in the bell,
nothing is lost, nothing more is paid for. Urgent notifications ("your turn") are counted
but always go out: missing one costs more than the message.

The counters live in the process's rate limiter (memory, or Redis shared by every
process); the runtime puts the limits into each session's `info` (`SEND_LIMITS_KEY`). A
session without them (a bare test session) has no limit.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.ratelimit import RateLimiter
from clinicflow.notifications.schemas import Channel, Priority

SEND_LIMITS_KEY = "clinicflow.notifications.send_limits"
WINDOW_SECONDS = 3600


@dataclass(frozen=True)
class SendLimits:
    limiter: RateLimiter
    per_user: int
    per_address: int


async def within_limits(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    priority: Priority,
    channels: Collection[Channel],
    addresses: Mapping[Channel, str | None],
) -> list[Channel]:
    """The channels this notification may use: in-app always, the others while the
    recipient's and the address's hourly budgets last (each counted as it is used)."""
    limits: SendLimits | None = session.info.get(SEND_LIMITS_KEY)
    if limits is None:
        return list(channels)
    kept: list[Channel] = []
    for channel in channels:
        if channel is Channel.in_app:
            kept.append(channel)
            continue
        user_hits, _ = await limits.limiter.hit(
            f"notify:{channel.value}:user:{user_id}", WINDOW_SECONDS
        )
        over = user_hits > limits.per_user
        address = addresses.get(channel)
        if address:
            address_hits, _ = await limits.limiter.hit(
                f"notify:{channel.value}:to:{address}", WINDOW_SECONDS
            )
            over = over or address_hits > limits.per_address
        if not over or priority is Priority.urgent:
            kept.append(channel)
    return kept
