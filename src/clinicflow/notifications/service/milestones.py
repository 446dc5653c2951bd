"""Queue milestones: a waiting patient is told when they reach the first 10, the first 3,
and next in line."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.notifications.models import Notification
from clinicflow.notifications.schemas import Kind
from clinicflow.notifications.service.triggers import EntryLike, about_entry

# Position milestones, most specific first: (type, the position it starts at).
MILESTONES = ((Kind.queue_next, 1), (Kind.queue_top3, 3), (Kind.queue_top10, 10))


async def queue_positions(session: AsyncSession, *, ordered: Sequence[EntryLike]) -> None:
    """Tell each waiting patient who has just reached a milestone (the first 10, the first
    3, next): the closest one reached, once per place in the queue, and never a farther one
    after a closer one (a patient moved back from 2nd to 5th is not told "first 10")."""
    head = ordered[: MILESTONES[-1][1]]
    keys = [f"{kind.value}:{entry.id}" for entry in head for kind, _starts in MILESTONES]
    told = set(
        await session.scalars(
            select(Notification.dedupe_key).where(Notification.dedupe_key.in_(keys))
        )
    )
    for position, entry in enumerate(head, start=1):
        kind, starts = next((k, s) for k, s in MILESTONES if position <= s)
        if any(f"{k.value}:{entry.id}" in told for k, s in MILESTONES if s <= starts):
            continue
        await about_entry(
            session,
            kind=kind,
            entry=entry,
            position=position,
            dedupe_key=f"{kind.value}:{entry.id}",
        )
