"""The queue's audit rows carry the address the request came from, bound to the unit of work
at the request boundary (no verb is handed it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import AuditEntry
from clinicflow.identity.schemas import Role
from tests.queue.clinic import QueueClinic

# The test client's address (tests/conftest.py, docs/testing.md).
ADDRESS = "203.0.113.7"


async def test_audited_queue_actions_store_the_callers_address(
    clinic: QueueClinic, session: AsyncSession
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    walked_in = await clinic.walk_in(desk, doctor, "+254780000001")
    assert walked_in.status_code == 201, walked_in.text
    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert called.status_code == 200, called.text
    changed = await clinic.client.put(
        "/api/admin/queue-rules",
        json={"no_show_grace_minutes": 5},
        headers=await clinic.staff(Role.admin),
    )
    assert changed.status_code == 200, changed.text
    rows = (
        await session.execute(
            select(AuditEntry.action, AuditEntry.ip).where(AuditEntry.action.startswith("queue."))
        )
    ).all()
    assert sorted(rows) == [
        ("queue.call", ADDRESS),
        ("queue.rules_changed", ADDRESS),
        ("queue.walk_in", ADDRESS),
    ]
