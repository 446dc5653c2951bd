"""The audit row a read of the medical record leaves."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import audit
from clinicflow.core.audit import Actor
from clinicflow.records import access


async def audit_read(
    session: AsyncSession,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID,
    details: dict[str, object] | None = None,
) -> None:
    """A staff read of any part of a record leaves an audit row; a patient reading their own
    record does not (`access.reads_are_audited`)."""
    if access.reads_are_audited(actor):
        await audit.record(
            session,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            actor=actor,
            details=details,
        )
