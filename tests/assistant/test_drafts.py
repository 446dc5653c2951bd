"""`@b draft prescription`: a structured draft in the records prescription's shape, kept for
the consultation's doctor only, prefilling the chart's prescription form; nothing reaches
the patient until the doctor issues the prescription there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import worker
from clinicflow.assistant.prescription import (
    MedicationDraft,
    PrescriptionDraft,
    from_answer,
    medications_in,
)
from clinicflow.consultations import service as consultations
from clinicflow.core import clock
from clinicflow.core.audit import AuditEntry
from clinicflow.identity.schemas import Role
from clinicflow.records.schemas import PrescriptionIn
from clinicflow.runtime import Runtime
from tests.assistant.conftest import Chat
from tests.factories import csrf_from, sign_in_page_staff

pytestmark = pytest.mark.usefixtures("app")

AMOXICILLIN = "Amoxicillin 500 mg three times a day for 7 days"
PARACETAMOL = "paracetamol 1 g every 6 hours as needed, 3 days"
EMPTY = {"dosage": "", "route": "", "quantity": "", "instructions": ""}
DRAFTED = [
    {
        **EMPTY,
        "name": "Amoxicillin",
        "strength": "500 mg",
        "frequency": "three times a day",
        "duration": "7 days",
    },
    {
        **EMPTY,
        "name": "paracetamol",
        "strength": "1 g",
        "frequency": "every 6 hours",
        "duration": "3 days",
        "instructions": "as needed",
    },
]


def draft_url(chat: Chat) -> str:
    return f"/api/consultations/{chat.id}/assistant/draft"


async def remember(chat: Chat, text: str) -> None:
    """Through the memory panel, not the chat: so nothing of it is a message the patient
    reads, and the only way for the patient to learn it would be the draft."""
    response = await chat.clinic.client.post(
        f"/api/consultations/{chat.id}/assistant/memory",
        json={"text": text},
        headers=chat.doctor.headers,
    )
    assert response.status_code == 201, response.text


async def draft(chat: Chat) -> int:
    seq = await chat.say(chat.doctor, "@b draft prescription")
    outcome = await chat.outcome(seq)
    assert (outcome["kind"], outcome["body"]) == ("system", "assistant_draft_ready")
    return seq


async def end(chat: Chat) -> None:
    async with chat.clinic.runtime.transaction() as session:
        await consultations.end(session=session, actor=chat.doctor.user, consultation_id=chat.id)


async def test_the_offline_draft_names_the_two_remembered_medicines(chat: Chat) -> None:
    await remember(chat, AMOXICILLIN)
    await remember(chat, PARACETAMOL + "; BP 150/95, recheck in two weeks")
    await chat.say(chat.patient, "I already take ibuprofen 400 mg twice a day")
    seq = await draft(chat)

    response = await chat.clinic.client.get(draft_url(chat), headers=chat.doctor.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["medications"] == DRAFTED  # the patient's ibuprofen is not prescribed
    assert {key: body[key] for key in ("consultation_id", "question_seq")} == {
        "consultation_id": str(chat.id),
        "question_seq": seq,
    }
    assert set(body) == {
        "consultation_id",
        "question_seq",
        "created_at",
        "updated_at",
        "medications",
        "lifestyle_advice",
        "dietary_instructions",
        "warning_signs",
    }
    # What the form will send is a prescription records accepts as it stands.
    PrescriptionIn.model_validate({"medications": body["medications"]})


async def test_without_a_medicine_the_draft_is_an_empty_row_saying_so(chat: Chat) -> None:
    await remember(chat, "Rest and fluids")
    await draft(chat)
    body = (await chat.clinic.client.get(draft_url(chat), headers=chat.doctor.headers)).json()
    [row] = body["medications"]
    assert row["name"] == ""
    assert "no medicine" in row["instructions"]


async def test_the_patient_never_receives_the_draft(chat: Chat) -> None:
    await remember(chat, AMOXICILLIN)
    seq = await draft(chat)
    await chat.events.wait_for(lambda e: e.type == "assistant.draft")

    carrying = [e for e in chat.events.events if "Amoxicillin" in str(e.data)]
    assert {e.type for e in carrying} >= {"assistant.draft", "assistant.delta"}
    assert {e.topic for e in carrying} == {f"user:{chat.doctor.id}"}
    assert not [e for e in chat.stream(seq) if e.topic == f"user:{chat.patient.id}"]

    client = chat.clinic.client
    messages = await client.get(
        f"/api/consultations/{chat.id}/messages", headers=chat.patient.headers
    )
    assert messages.status_code == 200
    assert "Amoxicillin" not in messages.text
    other = await chat.clinic.doctor()
    admin = await chat.clinic.staff(Role.admin)
    for headers in (chat.patient.headers, other.headers, admin.headers, {}):
        assert (await client.get(draft_url(chat), headers=headers)).status_code == 404
        assert (await client.delete(draft_url(chat), headers=headers)).status_code == 404
    assert (await client.get(draft_url(chat), headers=chat.doctor.headers)).status_code == 200


async def test_the_draft_stays_until_discarded_and_each_step_is_audited(
    chat: Chat, session: AsyncSession
) -> None:
    await remember(chat, AMOXICILLIN)
    await draft(chat)
    client, headers = chat.clinic.client, chat.doctor.headers
    for _reload in range(2):
        assert (await client.get(draft_url(chat), headers=headers)).json()["medications"] == [
            DRAFTED[0]
        ]
    await remember(chat, PARACETAMOL)
    await draft(chat)  # a new draft replaces the first
    assert (await client.get(draft_url(chat), headers=headers)).json()["medications"] == DRAFTED

    assert (await client.delete(draft_url(chat), headers=headers)).status_code == 204
    assert (await client.get(draft_url(chat), headers=headers)).status_code == 404
    assert (await client.delete(draft_url(chat), headers=headers)).status_code == 404
    actions = list(
        await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.like("assistant.draft_%"))
            .order_by(AuditEntry.seq)
        )
    )
    assert actions == [
        "assistant.draft_saved",
        "assistant.draft_read",
        "assistant.draft_read",
        "assistant.draft_saved",
        "assistant.draft_read",
        "assistant.draft_read",
        "assistant.draft_discarded",
    ]


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The doctor's browser: cookies of its own, not the API client's."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def form_of(page: str, consultation_id: Any) -> str:
    start = page.index(f'id="prescription-{consultation_id}"')
    return page[start : page.index("</form>", start)]


async def test_the_chart_form_is_prefilled_and_issuing_it_uses_the_draft(
    chat: Chat, browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    await remember(chat, AMOXICILLIN)
    await remember(chat, PARACETAMOL)
    await draft(chat)
    await sign_in_page_staff(browser, chat.doctor.user)
    chart_url = f"/patients/{chat.patient.id}/chart"

    waiting = await browser.get(chart_url)
    assert 'data-testid="prescription-form"' not in waiting.text  # only once it has ended
    await end(chat)
    chart = await browser.get(chart_url)
    form = form_of(chart.text, chat.id)
    for row, medication in enumerate(DRAFTED):
        for field, value in medication.items():
            assert f'name="{field}_{row}" maxlength' in form
            assert f'value="{value}" data-testid="{field}-{row}"' in form
    assert 'value="" data-testid="name-2"' in form  # the third row is left empty
    assert 'name="from_draft" value="1"' in form
    assert 'data-testid="draft-discard"' in chart.text

    # What the doctor submits is what is issued: here, with a change of their own.
    data = {f"{field}_{row}": value for row, m in enumerate(DRAFTED) for field, value in m.items()}
    data.update({"duration_0": "5 days", "from_draft": "1", "csrf_token": csrf_from(chart.text)})
    issued = await browser.post(f"/consultations/{chat.id}/prescriptions", data=data)
    assert issued.status_code == 303, issued.text

    client = chat.clinic.client
    assert (await client.get(draft_url(chat), headers=chat.doctor.headers)).status_code == 404
    history = await client.get(
        f"/api/patients/{chat.patient.id}/history", headers=chat.patient.headers
    )
    [visit] = [item for item in history.json()["items"] if item["id"] == str(chat.id)]
    [prescription] = visit["prescriptions"]
    assert [m["name"] for m in prescription["medications"]] == ["Amoxicillin", "paracetamol"]
    assert prescription["medications"][0]["duration"] == "5 days"
    after = await browser.get(chart_url)
    assert 'name="from_draft"' not in after.text
    used = select(AuditEntry.resource_id).where(AuditEntry.action == "assistant.draft_used")
    assert list(await session.scalars(used)) == [str(chat.id)]


async def test_the_charts_discard_empties_the_form(
    chat: Chat, browser: httpx.AsyncClient, session: AsyncSession
) -> None:
    await remember(chat, AMOXICILLIN)
    await draft(chat)
    await end(chat)
    await sign_in_page_staff(browser, chat.doctor.user)
    chart = await browser.get(f"/patients/{chat.patient.id}/chart")
    discarded = await browser.post(
        f"/consultations/{chat.id}/prescription-draft/discard",
        data={"csrf_token": csrf_from(chart.text)},
    )
    assert discarded.status_code == 303
    form = form_of((await browser.get(f"/patients/{chat.patient.id}/chart")).text, chat.id)
    assert 'value="" data-testid="name-0"' in form
    assert "Amoxicillin" not in form
    no_token = await browser.post(f"/consultations/{chat.id}/prescription-draft/discard")
    assert no_token.status_code == 403
    # Audited with the address of the doctor's browser, bound to the request's unit of work.
    discarded_from = select(AuditEntry.ip).where(AuditEntry.action == "assistant.draft_discarded")
    assert list(await session.scalars(discarded_from)) == ["203.0.113.9"]


async def test_a_draft_never_issued_goes_with_the_memory(
    chat: Chat, runtime: Runtime, frozen_clock: clock.FrozenClock
) -> None:
    await remember(chat, AMOXICILLIN)
    await draft(chat)
    await end(chat)
    job = next(job for job in worker.JOBS if job.name == "assistant.forget_closed_memory")
    frozen_clock.advance(minutes=29 * 24 * 60)
    assert await worker.run_once(runtime, job)
    headers = chat.doctor.headers
    assert (await chat.clinic.client.get(draft_url(chat), headers=headers)).status_code == 200
    frozen_clock.advance(minutes=2 * 24 * 60)
    assert await worker.run_once(runtime, job)
    assert (await chat.clinic.client.get(draft_url(chat), headers=headers)).status_code == 404


# --- the heuristic and the model's answer, as functions ----------------------------------


def test_one_line_may_name_several_medicines_and_a_name_is_kept_once() -> None:
    found = medications_in(
        [
            "start Metformin 500 mg twice daily with food; Atorvastatin 20 mg at night",
            "metformin 850 mg",
            "BP 150/95 and 2 tablets of nothing",
        ]
    )
    assert [(m.name, m.strength, m.frequency) for m in found] == [
        ("Metformin", "500 mg", "twice daily"),
        ("Atorvastatin", "20 mg", "at night"),
    ]
    assert found[0].instructions == "with food"


@given(st.lists(st.text(max_size=300), max_size=5))
def test_an_offline_draft_is_always_one_records_accepts(texts: list[str]) -> None:
    """Whatever the doctor wrote, the heuristic's draft passes records' schema unchanged, so
    the offline provider's answer is never the fallback."""
    found = medications_in(texts)
    if found:
        drafted = PrescriptionDraft(medications=found)
        assert from_answer(drafted.model_dump_json()) == drafted


@given(st.text(max_size=500))
def test_any_answer_becomes_a_draft_with_a_row(text: str) -> None:
    drafted = from_answer(text)
    assert drafted.medications
    if not drafted.medications[0].name:
        assert drafted.medications == [MedicationDraft(instructions=text.strip()[:4000])]
