"""What one domain is handed from another it may not import, put into every session's `info`.

The runtime builds the sessions but sits below the domains' pages and jobs (they import it),
so it cannot import the queue or the records itself. The entry points that build a runtime
(`app.create_app`, the CLI) pass these to `build_runtime`; no domain imports this module.

- records' care relation reads the queue, its sibling in the layers
  (`records.access.QueuePlaces`, answered by `queue.service.has_place_with`).
- consultations' closing hooks: a consultation's end hangs up its calls, which sit above
  it (`consultations.Closed`, answered by `calls.service.end_with_consultation`).
- identity's care relation (who reads a patient's profile as "their doctor") is records' own,
  so the two never disagree (`identity.access.CareRelation`, answered by `doctor_treats`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.calls import service as calls
from clinicflow.consultations import service as consultations
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError
from clinicflow.identity import access as identity_access
from clinicflow.queue import service as queues
from clinicflow.records import access as records_access


async def doctor_treats(session: AsyncSession, actor: Actor, patient_id: uuid.UUID) -> bool:
    """A doctor who reads a patient's whole chart reads their profile too."""
    try:
        view = await records_access.record_view(session, actor, patient_id)
    except AppError:
        return False
    return view is records_access.View.full


def session_info() -> dict[str, Any]:
    return {
        **records_access.queue_places_info(queues.has_place_with),
        **identity_access.care_relation_info(doctor_treats),
        **consultations.closed_info(calls.end_with_consultation),
    }
