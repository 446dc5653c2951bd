"""Which of the feed's shapes a person gets: decided from the owning domains' access rules,
never widened here. Every signed-in person may pull and push (the route requires a
session); what they may then see or do is each domain's own answer."""

from __future__ import annotations

import uuid

from clinicflow.core.audit import Actor
from clinicflow.identity import roles
from clinicflow.queue import access as queue_access


def follows_queues(actor: Actor) -> bool:
    """Staff keep whole queues of today (names included, as on their pages); a patient keeps
    only their own places."""
    return actor.role in roles.STAFF


def runs_queue(actor: Actor, doctor_id: uuid.UUID) -> bool:
    """The queues a staff member's copy holds: the queue's own page rule."""
    return queue_access.sees_whole_queue(actor, doctor_id)
