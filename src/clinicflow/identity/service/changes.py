"""Telling whoever holds a user's access open (sockets) that it changed.

An open socket decided once, when it subscribed, that its user may follow a topic. When
an admin changes the user's role or deactivates them, that decision must be taken again
at once, on every process. Identity is the lowest layer and cannot import the realtime
hub that does it, so the runtime hands identity a hook through every session's `info`
(as it does the code sender), and identity calls it in the transaction that made the
change; the hook acts once that transaction commits.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

ACCESS_CHANGED_KEY = "clinicflow.identity.access_changed"


class AccessChanged(Protocol):
    """Re-decide, after `session` commits, what `user_id` may follow."""

    def __call__(self, session: AsyncSession, user_id: uuid.UUID) -> None: ...


def access_changed_info(hook: AccessChanged) -> dict[str, Any]:
    """What the runtime puts into every session's `info` so identity reaches the hook."""
    return {ACCESS_CHANGED_KEY: hook}


def announce_access_change(session: AsyncSession, user_id: uuid.UUID) -> None:
    """`user_id`'s role or activity changed in this transaction. Without a hook (a
    command-line session) nothing is told, and open sockets still learn of it at their
    next login check."""
    hook: AccessChanged | None = session.info.get(ACCESS_CHANGED_KEY)
    if hook is not None:
        hook(session, user_id)
