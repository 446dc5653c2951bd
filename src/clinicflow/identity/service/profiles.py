"""Profile values another domain changes through identity: the doctor's meeting link.

The queue decides who may change a doctor's link and audits the change; identity keeps the
one place that writes the profile row, so "who changes a doctor's profile?" is answered here.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.identity.service.directory import get_doctor


async def set_meet_url(
    *, session: AsyncSession, doctor_id: uuid.UUID, meet_url: str | None
) -> bool:
    """Store the active doctor's meeting link (None clears it); answers whether it changed,
    so an unchanged link tells nobody. No access check: the asking domain has decided who
    may change it."""
    doctor = await get_doctor(session, doctor_id)
    assert doctor.doctor is not None  # get_doctor guarantees the profile
    if doctor.doctor.meet_url == meet_url:
        return False
    doctor.doctor.meet_url = meet_url
    await session.flush()
    return True
