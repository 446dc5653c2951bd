"""What one domain is handed from another it may not import, put into every session's `info`.

The runtime builds the sessions but sits below the domains' pages and jobs (they import it),
so it cannot import the queue or the records itself. The entry points that build a runtime
(`app.create_app`, the CLI) add these; no domain imports this module.

- records' care relation reads the queue, its sibling in the layers
  (`records.access.QueuePlaces`, answered by `queue.service.has_place_with`).
"""

from __future__ import annotations

from typing import Any

from clinicflow.queue import service as queues
from clinicflow.records import access as records_access


def session_info() -> dict[str, Any]:
    return {**records_access.queue_places_info(queues.has_place_with)}
