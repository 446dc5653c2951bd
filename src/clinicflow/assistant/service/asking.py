"""Asking the assistant: a question checked against the limits and either settled at once
(a refusal, a `remember`) or planned for the provider, then its answer, failure or cancel.

A question is a chat message that mentions `@b` (or `@assistant`); it is stored like any
other message first, so it is never lost. Its outcome (the answer, or a short system
message saying why there is none) is stored with a client id fixed by the question's `seq`
(`consultations.add_assistant_outcome`): the unique index lets exactly one outcome in, so a
cancel racing the answer, or two processes answering, cannot both land.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import realtime
from clinicflow.assistant import access, drafts, prescription
from clinicflow.assistant.memory_stores import MemoryItem, MemoryStore
from clinicflow.assistant.requests import Command, Quote, Request
from clinicflow.assistant.service.memory import add_item
from clinicflow.assistant.service.questions import Notice, Question, mentions, parse
from clinicflow.clinic import service as clinic
from clinicflow.config import Settings
from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import (
    MAX_BODY,
    ConsultationView,
    MessageView,
    SaidMessage,
    SenderRole,
)
from clinicflow.core import audit
from clinicflow.core.audit import Actor, Outcome
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.core.ratelimit import RateLimiter
from clinicflow.i18n import gettext as _
from clinicflow.i18n import gettext_in
from clinicflow.identity import service as identity

WINDOW_SECONDS = 3600


def topic(consultation_id: uuid.UUID) -> str:
    return f"consultation:{consultation_id}"


@dataclass(frozen=True)
class Plan:
    """What the runner must do for one question: stream `request` through the provider, to
    the whole consultation (a patient's question), or to the doctor alone (their private
    question, and every draft)."""

    consultation_id: uuid.UUID
    question_seq: int
    asker_id: uuid.UUID
    doctor_id: uuid.UUID
    request: Request
    # The doctor whose private thread the question is in (None: a patient's, in the chat).
    private_to: uuid.UUID | None

    @property
    def draft(self) -> bool:
        return self.request.command is Command.draft_prescription

    @property
    def private(self) -> bool:
        """Whether the answer streams to the doctor alone."""
        return self.draft or self.private_to is not None


async def _limited(
    limiter: RateLimiter, settings: Settings, actor: Actor, consultation: ConsultationView
) -> bool:
    """Whether this request is past the per-user or per-consultation hourly budget. Every
    request counts, refused ones included, so retrying does not get round it."""
    user_hits, _left = await limiter.hit(f"assistant:user:{actor.id}", WINDOW_SECONDS)
    consultation_hits, _left = await limiter.hit(
        f"assistant:consultation:{consultation.id}", WINDOW_SECONDS
    )
    return (
        user_hits > settings.assistant_requests_per_user_per_hour
        or consultation_hits > settings.assistant_requests_per_consultation_per_hour
    )


async def _audit_request(
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    question_seq: int,
    command: Command | None,
    outcome: Outcome,
    **details: Any,
) -> None:
    await audit.record(
        session,
        action="assistant.request",
        resource_type="consultation",
        resource_id=consultation_id,
        actor=actor,
        outcome=outcome,
        details={
            "question_seq": question_seq,
            "command": command.value if command else None,
            **details,
        },
    )


async def _refuse(
    session: AsyncSession,
    actor: Actor,
    consultation: ConsultationView,
    question: SaidMessage,
    command: Command | None,
    word: str,
) -> None:
    question_seq = question.seq
    await consultations.add_assistant_outcome(
        session=session,
        consultation=consultation,
        question_seq=question_seq,
        answer=False,
        body=word,
        sender_id=actor.id,
        private_to_id=question.private_to_id,
    )
    await _audit_request(
        session, actor, consultation.id, question_seq, command, Outcome.denied, refusal=word
    )


async def _reader(session: AsyncSession, reader_id: uuid.UUID) -> tuple[str, str]:
    """The language and time zone an answer is read in: a patient's chosen language, staff's
    the clinic's (as their notifications are written), and the clinic's zone. Decided from
    the reader, never the answering process, which may have taken the question off Redis."""
    profile = await clinic.current(session=session)
    found = await identity.users(session, [reader_id])
    patient = found[0].patient if found else None
    language = patient.preferred_language.value if patient is not None else profile.default_language
    return language, profile.timezone


async def begin(
    *,
    session: AsyncSession,
    actor: Actor,
    store: MemoryStore,
    limiter: RateLimiter,
    settings: Settings,
    provider_name: str,
    consultation_id: uuid.UUID,
    question_seq: int,
) -> Plan | None:
    """Check the question at `question_seq` (asked by `actor`) against the limits and either
    settle it here (a refusal, a `remember`) or answer with the plan for the provider.

    None when there is nothing to answer: no mention, someone else's message, or a
    consultation no longer open (no assistant in an ended consultation).
    """
    consultation, message = await consultations.message_at(
        session=session, actor=actor, consultation_id=consultation_id, seq=question_seq
    )
    question = parse(message.body) if message.kind == "text" else None
    if question is None or not access.is_asker(actor, message.sender_id):
        return None
    if consultation.status not in consultations.LIVE:
        return None
    if await _limited(limiter, settings, actor, consultation):
        await _refuse(session, actor, consultation, message, question.command, Notice.rate_limited)
        return None
    if len(question.text) > settings.assistant_max_question_chars:
        await _refuse(session, actor, consultation, message, question.command, Notice.too_long)
        return None
    if not access.may_ask_for(actor, consultation.doctor_id, question.command):
        await _refuse(session, actor, consultation, message, question.command, Notice.doctor_only)
        return None
    # The asker reads the answer: privately (the doctor) or in the chat (the patient).
    language, zone = await _reader(session, actor.id)
    if question.command is Command.remember:
        await _remember_from_question(
            session, actor, store, consultation, message, question, language
        )
        return None

    memory = (
        await store.items(consultation.id)
        if access.uses_memory(actor, consultation.doctor_id)
        else []
    )
    messages = [
        m
        for m in await consultations.transcript(
            session=session,
            reader=actor,
            consultation=consultation,
            limit=settings.assistant_transcript_messages,
        )
        if not mentions(m.body)
    ]
    names = await identity.names(session, {consultation.patient_id, consultation.doctor_id})
    request = Request(
        command=question.command,
        question=question.text,
        topic=question.topic,
        memory=[_memory_quote(item) for item in memory],
        transcript=[
            Quote(
                source="message",
                id=str(m.id),
                at=m.created_at,
                who=names.get(m.sender_id, "") if m.sender_id else "",
                text=m.body,
                seq=m.seq,
                by_doctor=m.sender_role == SenderRole.doctor,
            )
            for m in messages
        ],
        patient_name=names.get(consultation.patient_id, ""),
        problem=consultation.problem,
        asker="doctor" if access.is_doctor_of(actor, consultation.doctor_id) else "patient",
        language=language,
        zone=zone,
    )
    await _audit_request(
        session,
        actor,
        consultation.id,
        question_seq,
        question.command,
        Outcome.success,
        provider=provider_name,
        memory_ids=[str(item.id) for item in memory],
        transcript_seqs=[messages[0].seq, messages[-1].seq] if messages else None,
    )
    return Plan(
        consultation_id=consultation.id,
        question_seq=question_seq,
        asker_id=actor.id,
        doctor_id=consultation.doctor_id,
        request=request,
        private_to=message.private_to_id,
    )


def _memory_quote(item: MemoryItem) -> Quote:
    return Quote(
        source="memory", id=str(item.id), at=item.created_at, who="", text=item.text, by_doctor=True
    )


async def _remember_from_question(
    session: AsyncSession,
    actor: Actor,
    store: MemoryStore,
    consultation: ConsultationView,
    message: SaidMessage,
    question: Question,
    language: str,
) -> None:
    if not question.topic:
        await _refuse(session, actor, consultation, message, question.command, Notice.empty)
        return
    item = await add_item(
        session,
        actor,
        store,
        consultation,
        question.topic,
        source_message_id=message.id,
        source_seq=message.seq,
    )
    await consultations.add_assistant_outcome(
        session=session,
        consultation=consultation,
        question_seq=message.seq,
        answer=True,
        body=gettext_in(language, 'Remembered: "{text}"').format(text=item.text),
        sender_id=None,
        private_to_id=message.private_to_id,
    )
    await _audit_request(
        session,
        actor,
        consultation.id,
        message.seq,
        question.command,
        Outcome.success,
        memory_ids=[str(item.id)],
    )


async def finish(
    *,
    session: AsyncSession,
    actor: Actor,
    plan: Plan,
    text: str,
) -> bool:
    """Store the answer (a draft prescription is kept for the doctor only, and the chat
    just says one is ready). False when the question already has its outcome (it was
    cancelled) or the consultation has closed meanwhile: the answer is then dropped."""
    consultation = await consultations.consultation_for(
        session=session, actor=actor, consultation_id=plan.consultation_id
    )
    if consultation.status not in consultations.LIVE:
        return False
    body = text.strip()[:MAX_BODY] or gettext_in(plan.request.language, "I have no answer to that.")
    if plan.draft:
        _message, created = await consultations.add_assistant_outcome(
            session=session,
            consultation=consultation,
            question_seq=plan.question_seq,
            answer=False,
            body=Notice.draft_ready,
            sender_id=actor.id,
            private_to_id=plan.private_to,
        )
        if created:
            await drafts.save(
                session=session,
                actor=actor,
                consultation=consultation,
                question_seq=plan.question_seq,
                draft=prescription.from_answer(text),
            )
        return created
    _message, created = await consultations.add_assistant_outcome(
        session=session,
        consultation=consultation,
        question_seq=plan.question_seq,
        answer=True,
        body=body,
        sender_id=None,
        private_to_id=plan.private_to,
    )
    return created


async def fail(*, session: AsyncSession, actor: Actor, plan: Plan, word: str) -> None:
    """The provider failed or took too long: say so in the chat, once, while it is open."""
    consultation = await consultations.consultation_for(
        session=session, actor=actor, consultation_id=plan.consultation_id
    )
    if consultation.status not in consultations.LIVE:
        return
    await consultations.add_assistant_outcome(
        session=session,
        consultation=consultation,
        question_seq=plan.question_seq,
        answer=False,
        body=word,
        sender_id=actor.id,
        private_to_id=plan.private_to,
    )
    await _audit_request(
        session,
        actor,
        consultation.id,
        plan.question_seq,
        plan.request.command,
        Outcome.failure,
        error=word,
    )


async def cancel(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, question_seq: int
) -> MessageView:
    """Stop the answer to the actor's own question: the chat says it was cancelled, and every
    process is told, so whichever is answering stops. 409 once the question has its outcome."""
    consultation, message = await consultations.message_at(
        session=session, actor=actor, consultation_id=consultation_id, seq=question_seq
    )
    if message.kind != "text" or not mentions(message.body):
        raise not_found()
    access.require_asker(actor, message.sender_id)
    outcome, created = await consultations.add_assistant_outcome(
        session=session,
        consultation=consultation,
        question_seq=question_seq,
        answer=False,
        body=Notice.cancelled,
        sender_id=actor.id,
        private_to_id=message.private_to_id,
    )
    if not created:
        raise AppError(ErrorCode.nothing_to_cancel, _("That question has already been answered."))
    if message.private_to_id is not None:
        # A private question's answer streams to its doctor only, and so does its end.
        await realtime.publish_to_user(
            session,
            message.private_to_id,
            type="assistant.cancelled",
            data={"consultation_id": str(consultation.id), "question_seq": question_seq},
        )
    else:
        realtime.publish_on_commit(
            session,
            realtime.Event(
                topic=topic(consultation.id),
                type="assistant.cancelled",
                data={"question_seq": question_seq},
            ),
        )
    await _audit_request(
        session, actor, consultation.id, question_seq, None, Outcome.success, cancelled=True
    )
    return outcome
