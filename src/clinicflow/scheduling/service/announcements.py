"""How scheduling tells a doctor's followers that a slot was taken or freed, or the week changed.

Every change that takes or frees a slot, or rewrites a doctor's week, calls `announce`, which
publishes `availability.changed` on the doctor's `availability:<doctor_id>` topic once the
transaction commits. A hold that simply runs out is not announced: no transaction ends it,
so pages show it free on their next refresh.

The topic itself (who may follow it, the snapshot a subscriber gets) is served to the
realtime hub by `scheduling.events`, which reads free slots through this package; this
module imports nothing of it, so the imports go one way.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import realtime
from clinicflow.scheduling import schemas

KIND = "availability"
CHANGED = "availability.changed"


def topic(doctor_id: uuid.UUID) -> str:
    return f"{KIND}:{doctor_id}"


def announce(
    session: AsyncSession,
    doctor_id: uuid.UUID,
    slot: tuple[datetime, datetime] | None = None,
    *,
    free: bool = False,
) -> None:
    """Tell the doctor's followers, once this transaction commits, that `slot` was freed
    (`free=True`) or taken, or with no `slot` that the doctor's whole week changed."""
    data: dict[str, Any] = {"doctor_id": str(doctor_id)}
    if slot is None:
        data["schedule"] = True
    else:
        data.update(schemas.SlotOut(starts_at=slot[0], ends_at=slot[1]).model_dump(mode="json"))
        data["free"] = free
    realtime.publish_on_commit(
        session, realtime.Event(topic=topic(doctor_id), type=CHANGED, data=data)
    )
