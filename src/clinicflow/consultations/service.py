"""The rules of consultations: the lifecycle, messages, attachments, notes and recordings.

No message is lost, doubled or reordered because the database decides:
- every writer of messages first locks the consultations' rows (`SELECT … FOR UPDATE` in id
  order; on SQLite the writer's `BEGIN IMMEDIATE`), then reads their statuses, `last_seq`
  and the client ids already stored, numbers the new messages and writes them with the new
  `last_seq` in the same transaction. Concurrent senders queue on the rows, so no number is
  shared or skipped and a rolled-back send gives its numbers back;
- a unique `(consultation_id, client_id)` makes a resend store nothing new: it is answered
  with the stored message, found after the lock, so a concurrent resend finds it too;
- the status is read under the same lock, so a message cannot slip in after a concurrent
  "end";
- many sends are stored in a few statements whatever their number (`send_messages`), which
  is how the socket hub stores everything that arrived while it was busy.
Events go out only after the transaction commits (`realtime.publish_on_commit`).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from clinicflow import realtime
from clinicflow.consultations import access, schemas
from clinicflow.consultations.models import (
    Attachment,
    Consultation,
    ConsultationStatus,
    ConsultationType,
    Message,
    MessageKind,
    SenderRole,
)
from clinicflow.consultations.storage import FileStore
from clinicflow.core import audit, clock, cursors, security
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import CONTROL_CHARACTERS
from clinicflow.notifications import service as notifications
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.models import Appointment

S = ConsultationStatus
MESSAGES = cast(Table, Message.__table__)
MESSAGE_COLUMNS = tuple(column.name for column in MESSAGES.columns)
CONSULTATIONS = cast(Table, Consultation.__table__)
MAX_PAGE = 100
LIVE = (S.pending, S.active)
CLIENT_ID = re.compile(schemas.CLIENT_ID_PATTERN)
# Leading bytes of the only file types accepted: what the file is, whatever its name or the
# client's Content-Type say.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
EXTENSIONS = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/pdf": (".pdf",),
}
KNOWN_EXTENSIONS = {extension for extensions in EXTENSIONS.values() for extension in extensions}


def topic(consultation_id: uuid.UUID) -> str:
    return f"consultation:{consultation_id}"


# --- checks ----------------------------------------------------------------------------------


def _invalid(field: str, message: str) -> AppError:
    return AppError(ErrorCode.validation_error, message, {"field": field})


def _text(value: str, *, field: str, max_length: int, required: bool = True) -> str:
    """Refuse what cannot be a sentence: empty, too long, or with control characters (which
    PostgreSQL cannot always store and no clinical text needs)."""
    if required and not value.strip():
        raise _invalid(field, _("Write something first."))
    if len(value) > max_length:
        raise _invalid(field, _("At most {count} characters, please.").format(count=max_length))
    if CONTROL_CHARACTERS.search(value):
        raise _invalid(field, _("The text contains characters that cannot be stored."))
    return value


def _check_client_id(client_id: str) -> None:
    if not CLIENT_ID.fullmatch(client_id):
        raise _invalid(
            "client_id",
            _("The message id must be 1 to 64 letters, digits, dots, dashes or underscores."),
        )


def _require_status(consultation: Consultation, allowed: S, to: S) -> None:
    if consultation.status is not allowed:
        raise AppError(
            ErrorCode.invalid_transition,
            _("This consultation cannot make that change in its current status."),
            {"status": consultation.status.value, "to": to.value},
        )


# --- describing ------------------------------------------------------------------------------


async def describe(
    session: AsyncSession, consultations: Sequence[Consultation]
) -> list[schemas.ConsultationOut]:
    """The answer shape, with both people's names looked up in one query."""
    people = await _people(session, consultations)
    return [schemas.consultation_out(c, people) for c in consultations]


async def _people(
    session: AsyncSession, consultations: Sequence[Consultation]
) -> dict[uuid.UUID, str]:
    return await identity.names(
        session, {c.patient_id for c in consultations} | {c.doctor_id for c in consultations}
    )


async def _publish_change(
    session: AsyncSession, consultation: Consultation, kind: str, topics: Sequence[str]
) -> None:
    data = (await describe(session, [consultation]))[0].model_dump(mode="json")
    for name in topics:
        realtime.publish_on_commit(session, realtime.Event(topic=name, type=kind, data=data))


async def _publish_update(session: AsyncSession, consultation: Consultation) -> None:
    """Status changes reach the open chat and both people's lists (another tab, the
    doctor's queue of pending consultations)."""
    await _publish_change(
        session,
        consultation,
        "consultation.updated",
        [
            topic(consultation.id),
            f"user:{consultation.doctor_id}",
            f"user:{consultation.patient_id}",
        ],
    )


# --- lifecycle -------------------------------------------------------------------------------


async def start(
    *,
    session: AsyncSession,
    actor: Actor,
    doctor_id: uuid.UUID,
    problem: str,
    type: ConsultationType,
    appointment_id: uuid.UUID | None = None,
    client_ip: str | None = None,
) -> Consultation:
    access.require_patient(actor)
    problem = _text(problem.strip(), field="problem", max_length=schemas.MAX_PROBLEM)
    doctor = await identity.get_doctor(session, doctor_id)
    if appointment_id is not None:
        await _check_appointment(session, actor, appointment_id, doctor.id)
    consultation = Consultation(
        id=uuid.uuid4(),
        patient_id=actor.id,
        doctor_id=doctor.id,
        appointment_id=appointment_id,
        problem=problem,
        type=type,
        status=S.pending,
        last_seq=0,
    )
    session.add(consultation)
    await session.flush()
    await audit.record(
        session,
        action="consultation.start",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
        ip=client_ip,
        details={"doctor_id": str(doctor.id), "type": type.value},
    )
    await _publish_change(
        session, consultation, "consultation.created", [f"user:{consultation.doctor_id}"]
    )
    return consultation


async def _check_appointment(
    session: AsyncSession, actor: Actor, appointment_id: uuid.UUID, doctor_id: uuid.UUID
) -> None:
    """A linked appointment must be the patient's own, with the same doctor."""
    problem = _invalid("appointment_id", _("Link one of your appointments with this doctor."))
    try:
        appointment = await scheduling.get_appointment(
            session=session, actor=actor, appointment_id=appointment_id
        )
    except AppError as exc:
        if exc.code is ErrorCode.not_found:
            raise problem from None
        raise
    if appointment.doctor_id != doctor_id or appointment.patient_id != actor.id:
        raise problem


async def _doctors_change(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, allowed: S, *, to: S
) -> Consultation:
    """The consultation, locked, if the actor is its doctor and it is in `allowed`: every
    status change starts here so two of them cannot interleave."""
    consultation = await access.get_consultation_for(
        session, actor, consultation_id, for_update=True
    )
    access.require_doctor(actor, consultation)
    _require_status(consultation, allowed, to=to)
    return consultation


async def accept(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    client_ip: str | None = None,
) -> Consultation:
    consultation = await _doctors_change(session, actor, consultation_id, S.pending, to=S.active)
    if consultation.type is not ConsultationType.chat:
        # Copied, not referenced: a later change of the doctor's link must not alter this
        # consultation. A doctor without a link still accepts; the answer shows none.
        doctor = await identity.get_doctor(session, consultation.doctor_id)
        consultation.meet_url = doctor.doctor.meet_url if doctor.doctor else None
    consultation.status = S.active
    consultation.accepted_at = clock.now()
    await _transition(session, consultation, actor, "accepted", client_ip)
    return consultation


async def decline(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    reason: str,
    client_ip: str | None = None,
) -> Consultation:
    consultation = await _doctors_change(session, actor, consultation_id, S.pending, to=S.declined)
    consultation.decline_reason = _text(
        reason.strip(), field="reason", max_length=schemas.MAX_REASON
    )
    consultation.status = S.declined
    consultation.ended_at = clock.now()
    await _transition(session, consultation, actor, "declined", client_ip)
    return consultation


async def end(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    client_ip: str | None = None,
) -> Consultation:
    consultation = await _doctors_change(session, actor, consultation_id, S.active, to=S.ended)
    now = clock.now()
    consultation.status = S.ended
    consultation.ended_at = now
    started = consultation.accepted_at or consultation.created_at
    consultation.duration_seconds = max(0, int((now - started).total_seconds()))
    await _transition(session, consultation, actor, "ended", client_ip)
    return consultation


async def open_for_visit(
    *, session: AsyncSession, actor: Actor, appointment: Appointment, meet_url: str
) -> Consultation:
    """The consultation of an online appointment whose patient the doctor calls from the
    queue: the one the patient already started for it (accepted now), or a new active
    video consultation; either way with the doctor's link as it is at the call."""
    consultation = await session.scalar(
        select(Consultation)
        .where(Consultation.appointment_id == appointment.id, Consultation.status.in_(LIVE))
        .order_by(Consultation.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    if consultation is not None and consultation.status is S.active:
        consultation.meet_url = meet_url
        await session.flush()
        await _publish_update(session, consultation)
        return consultation
    if consultation is None:
        consultation = Consultation(
            id=uuid.uuid4(),
            patient_id=appointment.patient_id,
            doctor_id=appointment.doctor_id,
            appointment_id=appointment.id,
            problem=appointment.reason or _("Appointment"),
            type=ConsultationType.video,
            status=S.pending,
            last_seq=0,
        )
        session.add(consultation)
        await session.flush()
    consultation.meet_url = meet_url
    consultation.status = S.active
    consultation.accepted_at = clock.now()
    await _transition(session, consultation, actor, "accepted", None)
    return consultation


async def end_if_open(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> Consultation | None:
    """End the consultation of a finished queue visit, unless it has ended already."""
    consultation = await access.get_consultation_for(
        session, actor, consultation_id, for_update=True
    )
    if consultation.status is not S.active:
        return None
    return await end(session=session, actor=actor, consultation_id=consultation_id)


async def _transition(
    session: AsyncSession,
    consultation: Consultation,
    actor: Actor,
    event: str,
    client_ip: str | None,
) -> None:
    """Store the new status, say so in the conversation, audit it and tell both people."""
    await session.flush()
    await _system_message(session, consultation, actor, event)
    await audit.record(
        session,
        action=f"consultation.{event}",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
        ip=client_ip,
    )
    await _publish_update(session, consultation)
    await notifications.about_consultation(session, event=event, consultation=consultation)


async def _system_message(
    session: AsyncSession, consultation: Consultation, actor: Actor, event: str
) -> schemas.MessageView:
    """A line in the conversation that records an event (accepted, declined, ended); its
    `sender_id` names whose action it was. Each happens once, so its client id is fixed."""
    message, _created = await _append(
        session,
        consultation,
        client_id=f"system:{event}",
        sender_id=actor.id,
        sender_role=SenderRole.system,
        kind=MessageKind.system,
        body=event,
        statuses=None,
    )
    return message


async def join(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> tuple[schemas.MessageView, bool]:
    """Say in the conversation that the patient or doctor has opened it; once per person.

    Called by the chat page when it opens and by "join the call"; the second and later
    calls answer with the first one's message.
    """
    consultation = await access.get_consultation_for(session, actor, consultation_id)
    access.require_participant(actor, consultation)
    client_id = f"system:joined:{actor.id}"
    existing = await _by_client_id(session, consultation.id, client_id)
    if existing is not None:
        return existing, False
    if consultation.status is not S.active:
        raise access.not_open(consultation)
    return await _append(
        session,
        consultation,
        client_id=client_id,
        sender_id=actor.id,
        sender_role=SenderRole.system,
        kind=MessageKind.system,
        body="joined",
        statuses=(S.active,),
    )


# --- messages --------------------------------------------------------------------------------


def _sender_role(actor: Actor, consultation: access.Parties) -> SenderRole:
    return SenderRole.doctor if actor.id == consultation.doctor_id else SenderRole.patient


async def _by_client_id(
    session: AsyncSession, consultation_id: uuid.UUID, client_id: str
) -> schemas.MessageView | None:
    return (await _stored(session, {(consultation_id, client_id)})).get(
        (consultation_id, client_id)
    )


async def _stored(
    session: AsyncSession, keys: Collection[tuple[uuid.UUID, str]]
) -> dict[tuple[uuid.UUID, str], schemas.MessageView]:
    """The messages already stored under these (consultation, client id) pairs, in one
    query whatever their number."""
    if not keys:
        return {}
    found = await session.scalars(
        select(Message).where(
            Message.consultation_id.in_({consultation_id for consultation_id, _ in keys}),
            Message.client_id.in_({client_id for _, client_id in keys}),
        )
    )
    return {
        key: message
        for message in found
        if (key := (message.consultation_id, message.client_id)) in keys
    }


def _resent(existing: schemas.MessageView, actor: Actor) -> schemas.MessageView:
    """A resend answers with what was stored; someone else's id is not theirs to reuse."""
    if existing.sender_id != actor.id:
        raise AppError(
            ErrorCode.client_id_taken,
            _("That message id is already used by someone else. Send with a new one."),
            {"field": "client_id"},
        )
    return existing


@dataclass
class _Locked:
    """A consultation's row as storing messages needs it, locked until commit; `last_seq`
    counts up here as messages are given their numbers."""

    id: uuid.UUID
    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    status: ConsultationStatus
    last_seq: int


async def _lock(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, _Locked]:
    """The consultations' rows, locked in id order until commit (`FOR UPDATE` on PostgreSQL;
    on SQLite the writer's `BEGIN IMMEDIATE` already holds the database). Every writer of
    messages takes these locks before it looks at statuses or client ids, so concurrent
    senders queue here: none sees a status about to change, a `seq` about to be taken, or
    misses a client id about to be stored. The id order keeps two batches that share
    consultations from deadlocking."""
    if not ids:
        return {}
    rows = await session.execute(
        select(
            Consultation.id,
            Consultation.patient_id,
            Consultation.doctor_id,
            Consultation.status,
            Consultation.last_seq,
        )
        .where(Consultation.id.in_(sorted(ids)))
        .order_by(Consultation.id)
        .with_for_update()
    )
    return {row.id: _Locked(*row) for row in rows}


@dataclass(frozen=True)
class NewMessage:
    """A message a writer has just numbered: its row, its event and its answer are made
    from this (an ORM `Message` for each one was a large share of a chat message's cost)."""

    id: uuid.UUID
    consultation_id: uuid.UUID
    seq: int
    client_id: str
    sender_id: uuid.UUID | None
    sender_role: SenderRole
    kind: MessageKind
    body: str
    created_at: datetime
    attachment: Attachment | None = None


def _next(
    locked: _Locked,
    *,
    client_id: str,
    sender_id: uuid.UUID | None,
    sender_role: SenderRole,
    kind: MessageKind,
    body: str,
    attachment: Attachment | None = None,
) -> NewMessage:
    """A new message with the consultation's next `seq` (stored by `_store`)."""
    locked.last_seq += 1
    return NewMessage(
        id=uuid.uuid4(),
        consultation_id=locked.id,
        seq=locked.last_seq,
        client_id=client_id,
        sender_id=sender_id,
        sender_role=sender_role,
        kind=kind,
        body=body,
        created_at=clock.now(),
        attachment=attachment,
    )


async def _store(
    session: AsyncSession, messages: Sequence[NewMessage], locked: Collection[_Locked]
) -> None:
    """Store new messages and their consultations' `last_seq` in two statements whatever
    their number (plain executemany: the ORM's unit of work was most of a message's cost),
    and announce them once the transaction commits."""
    if not messages:
        return
    touched = {message.consultation_id for message in messages}
    await session.execute(
        update(CONSULTATIONS)
        .where(CONSULTATIONS.c.id == bindparam("locked_id"))
        .values(last_seq=bindparam("locked_last_seq")),
        [
            {"locked_id": row.id, "locked_last_seq": row.last_seq}
            for row in locked
            if row.id in touched
        ],
    )
    await session.execute(
        insert(MESSAGES),
        [{column: getattr(message, column) for column in MESSAGE_COLUMNS} for message in messages],
    )
    realtime.publish_on_commit(
        session,
        *(
            realtime.Event(
                topic=topic(message.consultation_id),
                type="message.created",
                seq=message.seq,
                data=schemas.message_json(message),
            )
            for message in messages
        ),
    )


async def _append(
    session: AsyncSession,
    consultation: Consultation,
    *,
    client_id: str,
    sender_id: uuid.UUID | None,
    sender_role: SenderRole,
    kind: MessageKind,
    body: str,
    statuses: Collection[S] | None,
    attachment: Attachment | None = None,
) -> tuple[schemas.MessageView, bool]:
    """Store one message with the next `seq` if the consultation is in one of `statuses`.

    Answers (message, True), or (the message stored earlier under this client id, False).
    """
    locked = (await _lock(session, [consultation.id]))[consultation.id]
    existing = await _by_client_id(session, consultation.id, client_id)
    if existing is not None:
        return existing, False
    if statuses is not None and locked.status not in statuses:
        raise access.not_open(locked)
    message = _next(
        locked,
        client_id=client_id,
        sender_id=sender_id,
        sender_role=sender_role,
        kind=kind,
        body=body,
        attachment=attachment,
    )
    if attachment is not None:
        attachment.message_id = message.id
    await _store(session, [message], [locked])
    if attachment is not None:
        session.add(attachment)
        await session.flush()
    set_committed_value(consultation, "last_seq", locked.last_seq)
    return message, True


@dataclass(frozen=True)
class Outgoing:
    """A text message someone sends: what `send_messages` takes, many at a time."""

    actor: Actor
    consultation_id: uuid.UUID
    client_id: str
    body: str


async def send_message(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    client_id: str,
    body: str,
) -> tuple[schemas.MessageView, bool]:
    """Store a text message as written (it is escaped on display, never rendered as HTML).

    Answers (message, created): a resend of a client id already stored answers with the
    stored message and `created` False, even after the consultation has closed, so a client
    whose first answer was lost learns that its message did arrive.
    """
    (answer,) = await send_messages(session, [Outgoing(actor, consultation_id, client_id, body)])
    if isinstance(answer, AppError):
        raise answer
    return answer


async def send_messages(
    session: AsyncSession, sends: Sequence[Outgoing]
) -> list[tuple[schemas.MessageView, bool] | AppError]:
    """Store many text messages, as many `send_message` calls in this order would, but in
    a handful of statements whatever their number: the socket hub stores every send that
    arrived while it was busy this way (group commit).

    Each send gets its own answer, (message, created) or the refusal, so one refused send
    does not hold back the others. A consultation whose patient is away gets one
    notification for the doctor's messages in the batch, not one per message.
    """
    locked = await _lock(session, {send.consultation_id for send in sends})
    stored = await _stored(
        session,
        {
            (send.consultation_id, send.client_id)
            for send in sends
            if CLIENT_ID.fullmatch(send.client_id)
        },
    )
    answers: list[tuple[schemas.MessageView, bool] | AppError] = []
    created: list[NewMessage] = []
    for send in sends:
        try:
            answers.append(_take(send, locked.get(send.consultation_id), stored, created))
        except AppError as refused:
            answers.append(refused)
    await _store(session, created, locked.values())
    await notifications.chat_messages(
        session,
        sent={
            message.consultation_id: (locked[message.consultation_id], message.sender_id)
            for message in created
            if message.sender_role is SenderRole.doctor and message.sender_id is not None
        },
    )
    return answers


def _take(
    send: Outgoing,
    locked: _Locked | None,
    stored: dict[tuple[uuid.UUID, str], schemas.MessageView],
    created: list[NewMessage],
) -> tuple[schemas.MessageView, bool]:
    """One send of a batch by the rules, in the order `send_message` has always checked
    them; a new message is numbered, added to `created` and to `stored` (a repeat later
    in the batch is a resend of it)."""
    actor = send.actor
    if locked is None or not access.can_read(actor, locked):
        raise not_found()
    access.writable_statuses(actor, locked)
    _check_client_id(send.client_id)
    key = (locked.id, send.client_id)
    existing = stored.get(key)
    if existing is not None:
        return _resent(existing, actor), False
    access.require_writer(actor, locked)
    _text(send.body, field="body", max_length=schemas.MAX_BODY)
    message = _next(
        locked,
        client_id=send.client_id,
        sender_id=actor.id,
        sender_role=_sender_role(actor, locked),
        kind=MessageKind.text,
        body=send.body,
    )
    stored[key] = message
    created.append(message)
    return message, True


async def _audit_message_read(
    session: AsyncSession,
    actor: Actor,
    consultation: Consultation,
    messages: Sequence[Message],
    client_ip: str | None,
) -> None:
    """Staff reads that return messages are audited; an empty answer shows nothing, so an
    idle poll leaves no row."""
    if not messages or not access.reads_are_audited(actor):
        return
    await audit.record(
        session,
        action="consultation.messages_read",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
        ip=client_ip,
        details={"from_seq": messages[0].seq, "to_seq": messages[-1].seq},
    )


async def history(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    before_seq: int | None = None,
    limit: int = 50,
    client_ip: str | None = None,
) -> tuple[list[Message], int | None]:
    """A page of the conversation going backwards: the `limit` messages before
    `before_seq` (the latest ones without it), oldest first, and the `before_seq` of the
    page before it (None at the start). Seqs have no gaps, so seq 1 is the start."""
    consultation = await access.get_consultation_for(session, actor, consultation_id)
    query = select(Message).where(Message.consultation_id == consultation.id)
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    newest_first = await session.scalars(
        query.order_by(Message.seq.desc()).limit(max(1, min(limit, MAX_PAGE)))
    )
    messages = list(newest_first)[::-1]
    await _audit_message_read(session, actor, consultation, messages, client_ip)
    earlier = messages[0].seq if messages and messages[0].seq > 1 else None
    return messages, earlier


async def messages_after(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    since: int | None,
    limit: int,
) -> list[Message]:
    """What a (re)connecting follower missed: messages after `since`, in `seq` order."""
    consultation = await access.get_consultation_for(session, actor, consultation_id)
    query = select(Message).where(Message.consultation_id == consultation.id)
    if since is not None:
        query = query.where(Message.seq > since)
    messages = list(await session.scalars(query.order_by(Message.seq).limit(limit)))
    await _audit_message_read(session, actor, consultation, messages, None)
    return messages


# --- attachments -----------------------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The file's type from its leading bytes, if it is one accepted."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for signature, content_type in SIGNATURES:
        if data.startswith(signature):
            return content_type
    return None


def _clean_filename(filename: str, content_type: str) -> str:
    """A display name: the last path part, no control characters, and an extension that
    matches what the file is, so it opens in the right program once downloaded
    ("scan.png" holding a PDF becomes "scan.pdf")."""
    name = re.split(r"[/\\]", filename)[-1]
    # No control character at all, line breaks included: the name goes into a header.
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().strip(".") or "file"
    stem, dot, extension = name.rpartition(".")
    suffix = f".{extension.lower()}" if dot else ""
    wanted = EXTENSIONS[content_type]
    if suffix in wanted:
        return f"{stem[:100]}{suffix}"
    base = stem if suffix in KNOWN_EXTENSIONS else name
    return f"{base[:100]}{wanted[0]}"


async def add_attachment(
    *,
    session: AsyncSession,
    actor: Actor,
    store: FileStore,
    consultation_id: uuid.UUID,
    filename: str,
    data: bytes,
    max_bytes: int,
    client_id: str | None = None,
) -> tuple[schemas.MessageView, bool]:
    """Store an image or PDF (encrypted, like message bodies) and announce it as a message.

    The type comes from the bytes alone; the file is written before the message row, so a
    failed commit can leave an unreferenced file behind but never a message without a file.
    """
    consultation = await access.get_consultation_for(session, actor, consultation_id)
    statuses = access.writable_statuses(actor, consultation)
    client_id = client_id or uuid.uuid4().hex
    _check_client_id(client_id)
    existing = await _by_client_id(session, consultation.id, client_id)
    if existing is not None:
        return _resent(existing, actor), False
    access.require_writer(actor, consultation)
    if len(data) > max_bytes:
        raise file_too_large(max_bytes)
    content_type = sniff(data)
    if content_type is None:
        raise AppError(
            ErrorCode.unsupported_file_type,
            _("Send a picture (PNG, JPEG, GIF or WebP) or a PDF."),
            {"field": "file"},
        )
    attachment = Attachment(
        id=uuid.uuid4(),
        consultation_id=consultation.id,
        filename=_clean_filename(filename, content_type),
        content_type=content_type,
        size_bytes=len(data),
        created_at=clock.now(),
    )
    attachment.storage_key = f"consultations/{consultation.id}/{attachment.id}"
    await store.put(attachment.storage_key, await asyncio.to_thread(security.encrypt_bytes, data))
    message, created = await _append(
        session,
        consultation,
        client_id=client_id,
        sender_id=actor.id,
        sender_role=_sender_role(actor, consultation),
        kind=MessageKind.attachment,
        body=attachment.filename,
        statuses=statuses,
        attachment=attachment,
    )
    return (message, True) if created else (_resent(message, actor), False)


def file_too_large(max_bytes: int) -> AppError:
    return AppError(
        ErrorCode.file_too_large,
        _("Files can be at most {size} MB.").format(size=max_bytes // (1024 * 1024)),
        {"max_bytes": max_bytes},
    )


async def read_attachment(
    *,
    session: AsyncSession,
    actor: Actor,
    store: FileStore,
    consultation_id: uuid.UUID,
    attachment_id: uuid.UUID,
    client_ip: str | None = None,
) -> tuple[Attachment, bytes]:
    consultation = await access.get_consultation_for(session, actor, consultation_id)
    attachment = await session.scalar(
        select(Attachment).where(
            Attachment.id == attachment_id, Attachment.consultation_id == consultation.id
        )
    )
    if attachment is None:
        raise AppError(ErrorCode.not_found, _("Not found."))
    data = await asyncio.to_thread(security.decrypt_bytes, await store.get(attachment.storage_key))
    if access.reads_are_audited(actor):
        await audit.record(
            session,
            action="consultation.attachment_read",
            resource_type="consultation",
            resource_id=consultation.id,
            actor=actor,
            ip=client_ip,
            details={"attachment_id": str(attachment.id)},
        )
    return attachment, data


# --- notes and recordings --------------------------------------------------------------------


async def read_notes(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    client_ip: str | None = None,
) -> str:
    consultation = await access.get_consultation_for(session, actor, consultation_id)
    access.require_notes_reader(actor, consultation)
    await audit.record(
        session,
        action="consultation.notes_read",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
        ip=client_ip,
    )
    return consultation.notes or ""


async def write_notes(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    notes: str,
    client_ip: str | None = None,
) -> str:
    """Replace the doctor's private notes (empty clears them)."""
    consultation = await access.get_consultation_for(
        session, actor, consultation_id, for_update=True
    )
    access.require_notes_writer(actor, consultation)
    consultation.notes = _text(notes, field="notes", max_length=schemas.MAX_NOTES, required=False)
    await session.flush()
    await audit.record(
        session,
        action="consultation.notes_update",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
        ip=client_ip,
        details={"length": len(notes)},
    )
    return notes


async def set_recording(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    url: str,
    duration_seconds: int,
    size_bytes: int,
    client_ip: str | None = None,
) -> Consultation:
    consultation = await access.get_consultation_for(
        session, actor, consultation_id, for_update=True
    )
    access.require_recording_writer(actor, consultation)
    if consultation.type is ConsultationType.chat:
        raise AppError(
            ErrorCode.recording_not_allowed,
            _("Only audio and video consultations have recordings."),
        )
    consultation.recording_url = url
    consultation.recording_duration_seconds = duration_seconds
    consultation.recording_size_bytes = size_bytes
    await session.flush()
    await audit.record(
        session,
        action="consultation.recording_update",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
        ip=client_ip,
    )
    await _publish_update(session, consultation)
    return consultation


# --- reading and listing ---------------------------------------------------------------------


async def get_consultation(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> Consultation:
    return await access.get_consultation_for(session, actor, consultation_id)


async def list_consultations(
    *,
    session: AsyncSession,
    actor: Actor,
    status: ConsultationStatus | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Consultation], str | None]:
    """The actor's consultations, newest first: a patient's own, a doctor's own, all for
    an admin (receptionists use the desk list)."""
    access.require_lister(actor)
    query = select(Consultation)
    if not access.sees_every_consultation(actor):
        query = query.where(
            (Consultation.patient_id == actor.id) | (Consultation.doctor_id == actor.id)
        )
    if status is not None:
        query = query.where(Consultation.status == status)
    if cursor:
        before_at, before_id = cursors.decode(cursor)
        query = query.where(
            tuple_(Consultation.created_at, Consultation.id) < (before_at, before_id)
        )
    limit = max(1, min(limit, MAX_PAGE))
    rows = list(
        await session.scalars(
            query.order_by(Consultation.created_at.desc(), Consultation.id.desc()).limit(limit + 1)
        )
    )
    next_cursor = (
        cursors.encode(rows[limit - 1].created_at, rows[limit - 1].id)
        if len(rows) > limit
        else None
    )
    return rows[:limit], next_cursor


async def desk(
    *, session: AsyncSession, actor: Actor, status: ConsultationStatus | None = None
) -> list[schemas.DeskEntry]:
    """Who is in consultation with whom right now (pending and active), oldest first."""
    access.require_desk(actor)
    statuses = [status] if status is not None else list(LIVE)
    rows = list(
        await session.scalars(
            select(Consultation)
            .where(Consultation.status.in_(statuses))
            .order_by(Consultation.created_at, Consultation.id)
            .limit(500)
        )
    )
    people = await _people(session, rows)
    return [schemas.desk_entry(c, people) for c in rows]


# --- for the medical record (records domain) -------------------------------------------------


async def treats(session: AsyncSession, *, doctor_id: uuid.UUID, patient_id: uuid.UUID) -> bool:
    """Whether the doctor has ever had a consultation with the patient: one of the two
    relations that open the patient's record to a doctor."""
    found = await session.scalar(
        select(Consultation.id)
        .where(Consultation.doctor_id == doctor_id, Consultation.patient_id == patient_id)
        .limit(1)
    )
    return found is not None


async def patient_consultations(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    before: tuple[datetime, uuid.UUID] | None = None,
    only: Collection[uuid.UUID] | None = None,
    limit: int = MAX_PAGE,
) -> list[Consultation]:
    """A patient's consultations, newest first by (created_at, id), within [start, end),
    before a cursor position, and among `only` when given. No access check: the records
    domain decides who may read a record before it asks."""
    query = select(Consultation).where(Consultation.patient_id == patient_id)
    if doctor_id is not None:
        query = query.where(Consultation.doctor_id == doctor_id)
    if start is not None:
        query = query.where(Consultation.created_at >= start)
    if end is not None:
        query = query.where(Consultation.created_at < end)
    if before is not None:
        query = query.where(tuple_(Consultation.created_at, Consultation.id) < before)
    if only is not None:
        query = query.where(Consultation.id.in_(list(only)))
    ordered = query.order_by(Consultation.created_at.desc(), Consultation.id.desc())
    return list(await session.scalars(ordered.limit(limit)))


async def patient_messages(session: AsyncSession, *, patient_id: uuid.UUID) -> list[Message]:
    """The text messages of all the patient's consultations, in conversation order, with
    their bodies decrypted: encrypted columns cannot be searched in SQL, so a search over
    one patient's messages reads that patient's rows and matches in Python."""
    query = (
        select(Message)
        .join(Consultation, Consultation.id == Message.consultation_id)
        .where(Consultation.patient_id == patient_id, Message.kind == MessageKind.text)
        .order_by(Message.consultation_id, Message.seq)
    )
    return list((await session.scalars(query)).unique())


# --- for the assistant -----------------------------------------------------------------------
# Kept apart from the send path: the assistant reacts to a message once it is stored and
# adds its outcome through these, so `send_message` knows nothing of it.

ASSISTANT_CLIENT_ID = "assistant:{seq}"


async def message_at(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, seq: int
) -> tuple[Consultation, Message]:
    """One message of a consultation the actor may read, by its `seq` (not found otherwise)."""
    consultation = await access.get_consultation_for(session, actor, consultation_id)
    message = await session.scalar(
        select(Message).where(Message.consultation_id == consultation.id, Message.seq == seq)
    )
    if message is None:
        raise AppError(ErrorCode.not_found, _("Not found."))
    return consultation, message


async def transcript(
    *, session: AsyncSession, consultation: Consultation, limit: int
) -> list[Message]:
    """The latest `limit` text messages, oldest first: what the assistant may draw on. Not
    audited here; the assistant writes one audit row per request naming what it used."""
    newest_first = await session.scalars(
        select(Message)
        .where(Message.consultation_id == consultation.id, Message.kind == MessageKind.text)
        .order_by(Message.seq.desc())
        .limit(limit)
    )
    return list(newest_first)[::-1]


async def add_assistant_outcome(
    *,
    session: AsyncSession,
    consultation: Consultation,
    question_seq: int,
    answer: bool,
    body: str,
    sender_id: uuid.UUID | None,
) -> tuple[schemas.MessageView, bool]:
    """The one outcome of the question at `question_seq` while the consultation is open: an
    `answer` (kind `assistant`) or a system message (a refusal, an error, a cancellation).

    Its client id is fixed per question, so the unique index lets exactly one outcome in:
    a cancel racing the answer, or a second process answering, stores nothing and gets
    (the stored outcome, False).
    """
    return await _append(
        session,
        consultation,
        client_id=ASSISTANT_CLIENT_ID.format(seq=question_seq),
        sender_id=sender_id,
        sender_role=SenderRole.assistant if answer else SenderRole.system,
        kind=MessageKind.assistant if answer else MessageKind.system,
        body=body,
        statuses=LIVE,
    )


async def ended_between(
    *, session: AsyncSession, after: datetime, before: datetime
) -> list[uuid.UUID]:
    """Consultations that closed (ended or declined) in `[after, before)`."""
    rows = await session.scalars(
        select(Consultation.id).where(
            Consultation.status.in_([S.ended, S.declined]),
            Consultation.ended_at >= after,
            Consultation.ended_at < before,
        )
    )
    return list(rows)
