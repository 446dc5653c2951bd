"""Asking `@b` in the chat: the question is stored like any message, the answer follows as a
message of kind `assistant` after a streamed "thinking" and its pieces; refusals, errors and
cancellations are short system messages, and every request is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.assistant import service as assistant
from clinicflow.assistant.memory_stores import DatabaseMemoryStore
from clinicflow.assistant.requests import Command
from clinicflow.consultations import service as consultations
from clinicflow.core.audit import AuditEntry
from clinicflow.runtime import Runtime
from tests.assistant.conftest import Chat

pytestmark = pytest.mark.usefixtures("app")


@pytest.mark.parametrize(
    ("body", "command", "topic"),
    [
        ("@b remember penicillin allergy", Command.remember, "penicillin allergy"),
        ("@B Remember: take with food", Command.remember, "take with food"),
        ("@b summary", Command.summary, ""),
        ("@assistant summarise please", Command.summary, ""),
        ("@b what did I say about the cough?", Command.recall, "the cough"),
        ("Hey @b, what did the patient say about sleep", Command.recall, "sleep"),
        ("@b draft prescription", Command.draft_prescription, ""),
        ("@b how long has the fever lasted", Command.ask, "how long has the fever lasted"),
    ],
)
def test_commands_are_read_from_the_mention(body: str, command: Command, topic: str) -> None:
    question = assistant.parse(body)
    assert question is not None
    assert (question.command, question.topic) == (command, topic)


@pytest.mark.parametrize(
    "body", ["hello doctor", "mail me at amina@b.example", "x@b", "@bob said hi", "@bravo"]
)
def test_messages_without_a_mention_are_not_questions(body: str) -> None:
    assert assistant.parse(body) is None


async def test_remember_then_recall_answers_with_the_item_and_its_time(
    chat: Chat, session: AsyncSession
) -> None:
    await chat.say(chat.patient, "My chest hurts when I climb stairs")
    remembered = await chat.ask(chat.doctor, "@b remember BP 150/95, recheck in two weeks")
    assert remembered["kind"] == "assistant"
    assert remembered["sender_role"] == "assistant"
    assert remembered["sender_id"] is None
    assert "BP 150/95" in remembered["body"]

    seq = await chat.say(chat.doctor, "@b what did I say about BP?")
    answer = await chat.outcome(seq)
    assert answer["kind"] == "assistant"
    assert answer["client_id"] == f"assistant:{seq}"
    assert "BP 150/95, recheck in two weeks" in answer["body"]
    assert "(remembered)" in answer["body"]
    # The answer streamed first: thinking, then the pieces that make it up, then the message.
    stream = chat.stream(seq)
    assert stream[0].type == "assistant.thinking"
    deltas = [e.data["text"] for e in stream if e.type == "assistant.delta"]
    assert len(deltas) >= 2
    assert "".join(deltas).strip() == answer["body"]

    rows = list(
        await session.scalars(select(AuditEntry).where(AuditEntry.action == "assistant.request"))
    )
    recall = [r for r in rows if r.details["question_seq"] == seq]
    assert len(recall) == 1
    assert recall[0].details["command"] == "recall"
    assert len(recall[0].details["memory_ids"]) == 1
    assert recall[0].actor_id == chat.doctor.id


async def test_nothing_relevant_is_said_plainly(chat: Chat) -> None:
    await chat.ask(chat.doctor, "@b remember no known allergies")
    answer = await chat.ask(chat.doctor, "@b what did I say about diabetes")
    assert answer["body"].strip() == 'I have nothing about "diabetes" in this consultation.'


async def test_a_patients_question_never_draws_on_memory(chat: Chat) -> None:
    await chat.ask(chat.doctor, "@b remember suspect migraine, rule out glaucoma")
    answer = await chat.ask(chat.patient, "@b what did the doctor say about glaucoma")
    assert "glaucoma" in answer["body"]  # only as the topic echoed back
    assert "rule out" not in answer["body"]
    assert "nothing" in answer["body"]


async def test_only_the_doctor_keeps_memory_and_drafts(chat: Chat) -> None:
    for body in ("@b remember I am allergic to nuts", "@b draft prescription"):
        refusal = await chat.ask(chat.patient, body)
        assert (refusal["kind"], refusal["body"]) == ("system", "assistant_doctor_only")
    response = await chat.clinic.client.get(
        f"/api/consultations/{chat.id}/assistant/memory", headers=chat.doctor.headers
    )
    assert response.json() == {"items": []}


async def test_a_draft_prescription_reaches_the_doctor_only(chat: Chat) -> None:
    await chat.ask(chat.doctor, "@b remember amoxicillin 500 mg three times a day, 5 days")
    seq = await chat.say(chat.doctor, "@b draft prescription")
    outcome = await chat.outcome(seq)
    assert (outcome["kind"], outcome["body"]) == ("system", "assistant_draft_ready")
    draft = await chat.events.wait_for(lambda e: e.type == "assistant.draft")
    assert draft.topic == f"user:{chat.doctor.id}"
    [medication] = draft.data["draft"]["medications"]
    assert (medication["name"], medication["strength"]) == ("amoxicillin", "500 mg")
    consultation_topic = f"consultation:{chat.id}"
    for event in chat.stream(seq):
        if event.type in ("assistant.delta", "assistant.draft"):
            assert event.topic != consultation_topic


async def test_past_the_rate_limit_the_chat_says_no(chat: Chat, runtime: Runtime) -> None:
    limit = runtime.settings.assistant_requests_per_user_per_hour
    runtime.settings.assistant_requests_per_user_per_hour = 2
    try:
        for _ in range(2):
            answer = await chat.ask(chat.doctor, "@b summary")
            assert answer["kind"] == "assistant"
        refusal = await chat.ask(chat.doctor, "@b summary")
    finally:
        runtime.settings.assistant_requests_per_user_per_hour = limit
    assert (refusal["kind"], refusal["body"]) == ("system", "assistant_rate_limited")
    assert refusal["sender_id"] == str(chat.doctor.id)
    # The patient has a budget of their own.
    assert (await chat.ask(chat.patient, "@b summary"))["kind"] == "assistant"


async def test_the_consultation_has_a_budget_of_its_own(chat: Chat, runtime: Runtime) -> None:
    runtime.settings.assistant_requests_per_consultation_per_hour = 1
    try:
        assert (await chat.ask(chat.doctor, "@b summary"))["kind"] == "assistant"
        refusal = await chat.ask(chat.patient, "@b summary")
    finally:
        runtime.settings.assistant_requests_per_consultation_per_hour = 60
    assert refusal["body"] == "assistant_rate_limited"


async def test_a_question_too_long_is_refused_in_the_chat(chat: Chat, runtime: Runtime) -> None:
    longest = runtime.settings.assistant_max_question_chars
    refusal = await chat.ask(chat.doctor, "@b " + "why " * (longest // 4 + 1))
    assert (refusal["kind"], refusal["body"]) == ("system", "assistant_too_long")
    fits = await chat.ask(chat.doctor, "@b " + "x" * (longest - 1))
    assert fits["kind"] == "assistant"


async def test_no_assistant_in_an_ended_consultation(chat: Chat, runtime: Runtime) -> None:
    seq = await chat.say(chat.doctor, "@b summary")
    await chat.outcome(seq)
    async with runtime.transaction() as session:
        await consultations.end(session=session, actor=chat.doctor.user, consultation_id=chat.id)
    # A question whose consultation ended before it was looked at gets no answer.
    async with runtime.transaction() as session:
        plan = await assistant.begin(
            session=session,
            actor=chat.doctor.user,
            store=DatabaseMemoryStore(session),
            limiter=runtime.limiter,
            settings=runtime.settings,
            provider_name="offline",
            consultation_id=chat.id,
            question_seq=seq,
        )
    assert plan is None
    response = await chat.clinic.send(chat.doctor, chat.id, "@b summary")
    assert response.status_code == 409


async def test_the_asker_cancels_an_answer_in_progress(chat: Chat) -> None:
    client = chat.clinic.client
    seq = await chat.say(chat.patient, "@b summary")
    # Someone else may not cancel it.
    other = await client.post(
        f"/api/consultations/{chat.id}/assistant/cancel",
        json={"question_seq": seq},
        headers=chat.doctor.headers,
    )
    assert other.status_code == 403
    # The doctor's own question is their private thread: to the patient it does not exist.
    private = await chat.say(chat.doctor, "@b summary")
    hidden = await client.post(
        f"/api/consultations/{chat.id}/assistant/cancel",
        json={"question_seq": private},
        headers=chat.patient.headers,
    )
    assert hidden.status_code == 404
    await chat.outcome(private)
    outcome = await chat.outcome(seq)
    # Answered already: nothing to cancel.
    late = await client.post(
        f"/api/consultations/{chat.id}/assistant/cancel",
        json={"question_seq": seq},
        headers=chat.patient.headers,
    )
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "nothing_to_cancel"
    assert outcome["kind"] == "assistant"
