"""Each question has exactly one outcome, whatever races for it: the runner's own answer,
other answers, failures and the asker's cancels, all at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from clinicflow.assistant import service as assistant
from clinicflow.assistant.requests import Command, Request
from clinicflow.consultations.models import Message
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic, Person

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
async def people(clinic: Clinic) -> tuple[Person, Person]:
    return await clinic.patient(), await clinic.doctor()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(contenders=st.lists(st.sampled_from(["answer", "fail", "cancel"]), min_size=1, max_size=6))
async def test_any_race_for_a_question_stores_one_outcome_and_no_gap(
    people: tuple[Person, Person], clinic: Clinic, runtime: Runtime, app: Any, contenders: list[str]
) -> None:
    patient, doctor = people
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    question = await clinic.send(doctor, consultation.id, "@b summary")
    seq = question.json()["seq"]
    plan = assistant.Plan(
        consultation_id=consultation.id,
        question_seq=seq,
        asker_id=doctor.id,
        doctor_id=doctor.id,
        request=Request(Command.summary, "summary", "", [], [], "", "", "doctor"),
        private_to=doctor.id,
    )

    refused: list[ErrorCode] = []

    async def contend(kind: str) -> bool:
        async with runtime.transaction() as tx:
            if kind == "answer":
                return await assistant.finish(session=tx, actor=doctor.user, plan=plan, text="ok")
            if kind == "fail":
                await assistant.fail(
                    session=tx, actor=doctor.user, plan=plan, word="assistant_failed"
                )
                return False
            try:
                await assistant.cancel(
                    session=tx, actor=doctor.user, consultation_id=consultation.id, question_seq=seq
                )
            except AppError as exc:
                refused.append(exc.code)
                return False
            return True

    results = await asyncio.gather(*[contend(kind) for kind in contenders])
    await app.state.assistant.idle()
    async with runtime.transaction(write=False) as tx:
        stored = list(
            await tx.execute(
                select(Message.seq, Message.client_id, Message.body)
                .where(Message.consultation_id == consultation.id)
                .order_by(Message.seq)
            )
        )
    outcomes = [row for row in stored if row[1] == f"assistant:{seq}"]
    assert len(outcomes) == 1
    assert set(refused) <= {ErrorCode.nothing_to_cancel}
    assert [row[0] for row in stored] == list(range(1, len(stored) + 1))
    # A winning answer or cancel is the one stored; at most one contender wins.
    assert sum(results) <= 1
    for kind, won in zip(contenders, results, strict=True):
        if won:
            assert outcomes[0][2] == ("ok" if kind == "answer" else "assistant_cancelled")
