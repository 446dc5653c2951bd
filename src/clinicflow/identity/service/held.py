"""The copies of identity's rows a process holds between requests (`core.held`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from clinicflow.core.held import Held
from clinicflow.identity.models import User
from clinicflow.identity.service import directory, sessions


def held_info() -> dict[str, Any]:
    """What the runtime puts into every session's `info`: the logins reads were answered
    for, and the doctors' directory."""
    logins: Held[tuple[User, uuid.UUID, datetime]] = Held(
        sessions.HELD_TABLES, seconds=sessions.HELD_LOGIN_SECONDS
    )
    doctors: Held[list[User]] = Held(
        directory.HELD_DIRECTORY_TABLES, seconds=directory.HELD_DIRECTORY_SECONDS
    )
    return {sessions.HELD_LOGINS_KEY: logins, directory.HELD_DIRECTORY_KEY: doctors}
