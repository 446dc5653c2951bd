"""The send path: how a message gets its `seq` and is stored, one at a time or many at once.

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
Events go out only after the transaction commits (`realtime.publish_on_commit`). The
doctor's `@b` questions and their answers are the doctor's private thread
(`access.private_to`): they go to `user:<doctor_id>` only, never the consultation's topic.

Tuned (docs/realtime.md, `bench/chat.py`): plain executemany statements and `NewMessage`
values rather than ORM objects. Change it only with the benchmark's figures beside you.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from clinicflow import realtime
from clinicflow.consultations import access, schemas
from clinicflow.consultations.models import Attachment, Consultation, Message
from clinicflow.consultations.schemas import (
    ConsultationStatus,
    ConsultationType,
    MessageKind,
    SenderRole,
)
from clinicflow.consultations.service.checks import CLIENT_ID, check_client_id, valid_text
from clinicflow.consultations.service.describing import topic
from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.notifications import service as notifications

S = ConsultationStatus
MESSAGES = cast(Table, Message.__table__)
MESSAGE_COLUMNS = tuple(column.name for column in MESSAGES.columns)
CONSULTATIONS = cast(Table, Consultation.__table__)


def sender_role_of(actor: Actor, consultation: access.Parties) -> SenderRole:
    return SenderRole.doctor if access.is_doctor_of(actor, consultation) else SenderRole.patient


async def by_client_id(
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


def resent(existing: schemas.MessageView, actor: Actor) -> schemas.MessageView:
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
    type: ConsultationType
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
            Consultation.type,
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
    private_to_id: uuid.UUID | None = None
    attachment: Attachment | None = None


def _next(
    locked: _Locked,
    *,
    client_id: str,
    sender_id: uuid.UUID | None,
    sender_role: SenderRole,
    kind: MessageKind,
    body: str,
    private_to_id: uuid.UUID | None = None,
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
        private_to_id=private_to_id,
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
            if message.private_to_id is None
        ),
    )
    # The doctor's private assistant thread never goes on the consultation's topic (its
    # patient follows it): it goes to that doctor's own topic, kept in their event log.
    for message in messages:
        if message.private_to_id is not None:
            await realtime.publish_to_user(
                session,
                message.private_to_id,
                type="message.created",
                data={
                    **schemas.message_json(message),
                    "consultation_id": str(message.consultation_id),
                },
            )


async def append(
    session: AsyncSession,
    consultation: Consultation,
    *,
    client_id: str,
    sender_id: uuid.UUID | None,
    sender_role: SenderRole,
    kind: MessageKind,
    body: str,
    statuses: Collection[S] | None,
    private_to_id: uuid.UUID | None = None,
    attachment: Attachment | None = None,
) -> tuple[schemas.MessageView, bool]:
    """Store one message with the next `seq` if the consultation is in one of `statuses`.

    Answers (message, True), or (the message stored earlier under this client id, False).
    """
    locked = (await _lock(session, [consultation.id]))[consultation.id]
    existing = await by_client_id(session, consultation.id, client_id)
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
        private_to_id=private_to_id,
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
            if message.sender_role is SenderRole.doctor
            and message.sender_id is not None
            and message.private_to_id is None
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
    check_client_id(send.client_id)
    key = (locked.id, send.client_id)
    existing = stored.get(key)
    if existing is not None:
        return resent(existing, actor), False
    access.require_writer(actor, locked)
    valid_text(send.body, field="body", max_length=schemas.MAX_BODY)
    message = _next(
        locked,
        client_id=send.client_id,
        sender_id=actor.id,
        sender_role=sender_role_of(actor, locked),
        kind=MessageKind.text,
        body=send.body,
        private_to_id=access.private_to(actor, locked, send.body),
    )
    stored[key] = message
    created.append(message)
    return message, True
