"""Profile values other domains change through identity: the doctor's meeting link."""

from __future__ import annotations

import uuid

import pytest

from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.factories import Accounts

MEET = "https://meet.google.com/abc-defg-hij"


async def _meet_url(runtime: Runtime, doctor_id: uuid.UUID) -> str | None:
    async with runtime.transaction(write=False) as session:
        doctor = await identity.get_doctor(session, doctor_id)
        assert doctor.doctor is not None
        return doctor.doctor.meet_url


async def _set(runtime: Runtime, doctor_id: uuid.UUID, meet_url: str | None) -> bool:
    async with runtime.transaction() as session:
        return await identity.set_meet_url(session=session, doctor_id=doctor_id, meet_url=meet_url)


async def test_set_meet_url_stores_the_link_and_says_whether_it_changed(
    accounts: Accounts, runtime: Runtime
) -> None:
    doctor = await accounts.make(Role.doctor)
    assert await _meet_url(runtime, doctor.id) is None
    assert await _set(runtime, doctor.id, MEET) is True
    assert await _meet_url(runtime, doctor.id) == MEET
    assert await _set(runtime, doctor.id, MEET) is False
    assert await _set(runtime, doctor.id, None) is True
    assert await _meet_url(runtime, doctor.id) is None


async def test_set_meet_url_knows_only_active_doctors(accounts: Accounts, runtime: Runtime) -> None:
    patient = await accounts.make(Role.patient)
    for someone in (patient.id, uuid.uuid4()):
        with pytest.raises(AppError) as refused:
            await _set(runtime, someone, MEET)
        assert refused.value.code is ErrorCode.not_found
