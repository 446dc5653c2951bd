"""The rules of the assistant: mentions and commands, limits, memory, and the one outcome of
each question.

A question is a chat message that mentions `@b` (or `@assistant`); it is stored like any
other message first, so it is never lost. Its outcome (the answer, or a short system
message saying why there is none) is stored with a client id fixed by the question's `seq`
(`consultations.add_assistant_outcome`): the unique index lets exactly one outcome in, so a
cancel racing the answer, or two processes answering, cannot both land.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import realtime
from clinicflow.assistant import access, drafts, prescription
from clinicflow.assistant.memory import MemoryItem, MemoryStore, new_item
from clinicflow.assistant.providers import Command, Quote, Request
from clinicflow.config import Settings
from clinicflow.consultations import service as consultations
from clinicflow.consultations.models import SenderRole
from clinicflow.consultations.schemas import MAX_BODY
from clinicflow.core import audit, clock
from clinicflow.core.audit import Actor, Outcome
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.core.ratelimit import RateLimiter
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import CONTROL_CHARACTERS

MENTION = re.compile(r"(?<![\w@.])@(?:b|assistant)(?![\w@])", re.IGNORECASE)
REMEMBER = re.compile(r"^remember\b[\s:,-]*(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
SUMMARY = re.compile(r"^(summary|summari[sz]e)\b", re.IGNORECASE)
RECALL = re.compile(
    r"^what\s+did\s+(?:i|we|you|the\s+patient|the\s+doctor)\s+(?:say|write|tell\s+\w+)\s+"
    r"(?:about|on|regarding)\s+(?P<topic>.+?)[\s?.!]*$",
    re.IGNORECASE | re.DOTALL,
)
DRAFT = re.compile(r"^draft\s+(?:a\s+)?prescription\b", re.IGNORECASE)
DOCTOR_ONLY = frozenset({Command.remember, Command.draft_prescription})
MAX_MEMORY_TEXT = 2000
WINDOW_SECONDS = 3600


class Notice:
    """The fixed words of the system messages that end a question without an answer; the
    chat page translates them."""

    rate_limited = "assistant_rate_limited"
    too_long = "assistant_too_long"
    doctor_only = "assistant_doctor_only"
    empty = "assistant_empty"
    failed = "assistant_failed"
    timeout = "assistant_timeout"
    cancelled = "assistant_cancelled"
    draft_ready = "assistant_draft_ready"


@dataclass(frozen=True)
class Question:
    command: Command
    text: str
    topic: str


def mentions(body: str) -> bool:
    return MENTION.search(body) is not None


def parse(body: str) -> Question | None:
    """The question a message asks the assistant, or None if it does not mention it."""
    match = MENTION.search(body)
    if match is None:
        return None
    # What follows the mention is the question ("Hey @b, summary"); a mention at the end
    # ("summary please @b") asks what came before it.
    after, before = body[match.end() :], body[: match.start()]
    text = " ".join(MENTION.sub(" ", after if after.strip(" ,:;-") else before).split())
    text = text.lstrip(",:;- ").strip()
    if found := REMEMBER.match(text):
        return Question(Command.remember, text, found["rest"].strip())
    if SUMMARY.match(text):
        return Question(Command.summary, text, "")
    if found := RECALL.match(text):
        return Question(Command.recall, text, found["topic"].strip())
    if DRAFT.match(text):
        return Question(Command.draft_prescription, text, "")
    return Question(Command.ask, text, text)


def topic(consultation_id: uuid.UUID) -> str:
    return f"consultation:{consultation_id}"


# --- asking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What the runner must do for one question: stream `request` through the provider, to
    the whole consultation, or to the doctor alone for a draft."""

    consultation_id: uuid.UUID
    question_seq: int
    asker_id: uuid.UUID
    doctor_id: uuid.UUID
    request: Request

    @property
    def private(self) -> bool:
        return self.request.command is Command.draft_prescription


async def _limited(
    limiter: RateLimiter, settings: Settings, actor: Actor, consultation: Any
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
    consultation: Any,
    question_seq: int,
    command: Command | None,
    word: str,
) -> None:
    await consultations.add_assistant_outcome(
        session=session,
        consultation=consultation,
        question_seq=question_seq,
        answer=False,
        body=word,
        sender_id=actor.id,
    )
    await _audit_request(
        session, actor, consultation.id, question_seq, command, Outcome.denied, refusal=word
    )


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
    if question is None or message.sender_id != actor.id:
        return None
    if consultation.status not in consultations.LIVE:
        return None
    if await _limited(limiter, settings, actor, consultation):
        await _refuse(
            session, actor, consultation, question_seq, question.command, Notice.rate_limited
        )
        return None
    if len(question.text) > settings.assistant_max_question_chars:
        await _refuse(session, actor, consultation, question_seq, question.command, Notice.too_long)
        return None
    if question.command in DOCTOR_ONLY and not access.is_doctor_of(actor, consultation.doctor_id):
        await _refuse(
            session, actor, consultation, question_seq, question.command, Notice.doctor_only
        )
        return None
    if question.command is Command.remember:
        await _remember_from_question(session, actor, store, consultation, message, question)
        return None

    memory = (
        await store.items(consultation.id)
        if access.uses_memory(actor, consultation.doctor_id)
        else []
    )
    messages = [
        m
        for m in await consultations.transcript(
            session=session, consultation=consultation, limit=settings.assistant_transcript_messages
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
    )


def _memory_quote(item: MemoryItem) -> Quote:
    return Quote(
        source="memory", id=str(item.id), at=item.created_at, who="", text=item.text, by_doctor=True
    )


async def _remember_from_question(
    session: AsyncSession,
    actor: Actor,
    store: MemoryStore,
    consultation: Any,
    message: Any,
    question: Question,
) -> None:
    if not question.topic:
        await _refuse(session, actor, consultation, message.seq, question.command, Notice.empty)
        return
    item = await _add(
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
        body=_('Remembered: "{text}"').format(text=item.text),
        sender_id=None,
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
    consultation = await consultations.get_consultation(
        session=session, actor=actor, consultation_id=plan.consultation_id
    )
    if consultation.status not in consultations.LIVE:
        return False
    body = text.strip()[:MAX_BODY] or _("I have no answer to that.")
    if plan.private:
        _message, created = await consultations.add_assistant_outcome(
            session=session,
            consultation=consultation,
            question_seq=plan.question_seq,
            answer=False,
            body=Notice.draft_ready,
            sender_id=actor.id,
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
    )
    return created


async def fail(*, session: AsyncSession, actor: Actor, plan: Plan, word: str) -> None:
    """The provider failed or took too long: say so in the chat, once, while it is open."""
    consultation = await consultations.get_consultation(
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
) -> Any:
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
    )
    if not created:
        raise AppError(ErrorCode.nothing_to_cancel, _("That question has already been answered."))
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


# --- memory ---------------------------------------------------------------------------------


def _memory_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise AppError(ErrorCode.validation_error, _("Write something first."), {"field": "text"})
    if len(text) > MAX_MEMORY_TEXT:
        raise AppError(
            ErrorCode.validation_error,
            _("At most {count} characters, please.").format(count=MAX_MEMORY_TEXT),
            {"field": "text"},
        )
    if CONTROL_CHARACTERS.search(text):
        raise AppError(
            ErrorCode.validation_error,
            _("The text contains characters that cannot be stored."),
            {"field": "text"},
        )
    return text


async def _keeper_consultation(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> Any:
    consultation = await consultations.get_consultation(
        session=session, actor=actor, consultation_id=consultation_id
    )
    access.require_memory_keeper(actor, consultation.doctor_id)
    return consultation


async def _audit_memory(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, action: str, **details: Any
) -> None:
    """Audit a memory read or change; a change is also announced to the doctor's open pages
    (`assistant.memory` on `user:<doctor>`) so every panel shows the same list."""
    if action != "read":
        realtime.publish_on_commit(
            session,
            realtime.Event(
                topic=f"user:{actor.id}",
                type="assistant.memory",
                data={"consultation_id": str(consultation_id)},
            ),
        )
    await audit.record(
        session,
        action=f"assistant.memory_{action}",
        resource_type="consultation",
        resource_id=consultation_id,
        actor=actor,
        details=details,
    )


async def _add(
    session: AsyncSession,
    actor: Actor,
    store: MemoryStore,
    consultation: Any,
    text: str,
    *,
    source_message_id: uuid.UUID | None,
    source_seq: int | None,
) -> MemoryItem:
    item = await store.add(
        new_item(
            consultation_id=consultation.id,
            text=_memory_text(text),
            created_by_id=actor.id,
            source_message_id=source_message_id,
            source_seq=source_seq,
        )
    )
    await _audit_memory(
        session, actor, consultation.id, "add", item_id=str(item.id), source_seq=source_seq
    )
    return item


async def list_memory(
    *, session: AsyncSession, actor: Actor, store: MemoryStore, consultation_id: uuid.UUID
) -> list[MemoryItem]:
    consultation = await _keeper_consultation(session, actor, consultation_id)
    items = await store.items(consultation.id)
    if items:
        await _audit_memory(session, actor, consultation.id, "read", count=len(items))
    return items


async def add_memory(
    *,
    session: AsyncSession,
    actor: Actor,
    store: MemoryStore,
    consultation_id: uuid.UUID,
    text: str | None = None,
    message_seq: int | None = None,
) -> MemoryItem:
    """Remember `text`, or the message at `message_seq` (the "remember" action on a message)."""
    consultation = await _keeper_consultation(session, actor, consultation_id)
    if message_seq is None:
        return await _add(
            session, actor, store, consultation, text or "", source_message_id=None, source_seq=None
        )
    _consultation, message = await consultations.message_at(
        session=session, actor=actor, consultation_id=consultation.id, seq=message_seq
    )
    if message.kind != "text":
        raise AppError(
            ErrorCode.validation_error,
            _("Only written messages can be remembered."),
            {"field": "message_seq"},
        )
    return await _add(
        session,
        actor,
        store,
        consultation,
        text or message.body,
        source_message_id=message.id,
        source_seq=message.seq,
    )


async def update_memory(
    *,
    session: AsyncSession,
    actor: Actor,
    store: MemoryStore,
    consultation_id: uuid.UUID,
    item_id: uuid.UUID,
    text: str,
) -> MemoryItem:
    consultation = await _keeper_consultation(session, actor, consultation_id)
    item = await store.update(consultation.id, item_id, _memory_text(text))
    if item is None:
        raise not_found()
    await _audit_memory(session, actor, consultation.id, "update", item_id=str(item_id))
    return item


async def delete_memory(
    *,
    session: AsyncSession,
    actor: Actor,
    store: MemoryStore,
    consultation_id: uuid.UUID,
    item_id: uuid.UUID,
) -> None:
    consultation = await _keeper_consultation(session, actor, consultation_id)
    if not await store.delete(consultation.id, item_id):
        raise not_found()
    await _audit_memory(session, actor, consultation.id, "delete", item_id=str(item_id))


async def forget_closed(
    *, session: AsyncSession, store: MemoryStore, retention_days: int, ttl_days: int
) -> int:
    """Delete the memory (and any draft never issued) of consultations closed more than
    `retention_days` ago. Only those closed within the memory TTL before that are looked at:
    older Redis keys have expired by themselves, and database rows of older ones went in an
    earlier run (a worker stopped for longer than the TTL leaves those behind)."""
    before = clock.now() - timedelta(days=retention_days)
    ids = await consultations.ended_between(
        session=session, after=before - timedelta(days=ttl_days), before=before
    )
    await store.forget(ids)
    await drafts.forget(session, ids)
    return len(ids)
