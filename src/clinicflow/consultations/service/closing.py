"""What a consultation's end sets off in the domains above it, inside the same transaction.

Calls sit above consultations (they read a consultation through its rules), so this domain
cannot ask them by name to hang up. The runtime puts the hooks into every session's `info`
(`closed_info`), as identity is handed its code sender; `lifecycle` runs them whenever a
consultation leaves `active`, before the commit, so the consultation's end and what follows
from it (a call hung up, its `call.end` frames) commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations.access import Parties
from clinicflow.core.audit import Actor

CLOSED_KEY = "clinicflow.consultations.closed"


class Ended(Parties, Protocol):
    """The consultation a hook is told of: which one, its two people, where it stands."""

    @property
    def id(self) -> uuid.UUID: ...


class Closed(Protocol):
    """React to `consultation` no longer being active (`actor` ended or cancelled it): write
    through the reacting domain's own verbs and publish on commit; the caller commits."""

    async def __call__(
        self, session: AsyncSession, *, actor: Actor, consultation: Ended
    ) -> None: ...


def closed_info(*hooks: Closed) -> dict[str, Any]:
    """What the runtime puts into every session's `info` so `lifecycle` reaches the hooks."""
    return {CLOSED_KEY: tuple(hooks)}


async def announce_closed(session: AsyncSession, actor: Actor, consultation: Ended) -> None:
    hooks: Sequence[Closed] = session.info.get(CLOSED_KEY, ())
    for hook in hooks:
        await hook(session, actor=actor, consultation=consultation)
