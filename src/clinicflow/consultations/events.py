"""The `consultation:<id>` topic for the realtime hub.

Events on it: `message.created` (durable, with the message's `seq`; data is the message) and
`consultation.updated` (ephemeral; data is the consultation). The same consultation events
also go to `user:<doctor_id>` and `user:<patient_id>`, and `consultation.created` to
`user:<doctor_id>`, so lists update live.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import access, schemas
from clinicflow.consultations import service as consultations
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.realtime.events import Event
from clinicflow.realtime.topics import Incoming


def _consultation_id(key: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(key)
    except ValueError:
        return None


# Message numbers are an int4 column: this is the largest one a conversation can reach.
LAST_SEQ = 2**31 - 1


class ConsultationTopic:
    """Followed by whoever may read the consultation (access.py); a (re)subscriber is caught
    up from the database with the messages after the last `seq` it saw."""

    kind = "consultation"

    async def authorize(self, *, session: AsyncSession, user: Actor, key: str) -> bool:
        consultation_id = _consultation_id(key)
        if consultation_id is None:
            return False
        try:
            await access.get_consultation_for(session, user, consultation_id)
        except AppError as exc:
            if exc.code is ErrorCode.not_found:
                return False
            raise
        return True

    async def replay(
        self, *, session: AsyncSession, user: Actor, key: str, since: int | None, limit: int
    ) -> list[Event]:
        consultation_id = _consultation_id(key)
        if consultation_id is None:
            return []
        if since is not None and since >= LAST_SEQ:
            # Nothing comes after the largest number the column holds; asking PostgreSQL
            # about a larger one would fail (an int4 parameter), not answer "nothing".
            return []
        messages = await consultations.messages_after(
            session=session, actor=user, consultation_id=consultation_id, since=since, limit=limit
        )
        name = consultations.topic(consultation_id)
        return [
            Event(
                topic=name,
                type="message.created",
                seq=message.seq,
                data=schemas.message_json(message),
            )
            for message in messages
        ]

    async def send(
        self, *, session: AsyncSession, sends: Sequence[Incoming]
    ) -> list[dict[str, Any] | AppError]:
        """`send` frames `{client_id, body}`: stored exactly as `POST …/messages` would,
        all in one `send_messages`."""
        answers: list[dict[str, Any] | AppError | None] = []
        outgoing: list[consultations.Outgoing] = []
        for send in sends:
            try:
                outgoing.append(_outgoing(send))
                answers.append(None)
            except AppError as refused:
                answers.append(refused)
        stored = iter(await consultations.send_messages(session, outgoing))
        return [answer if answer is not None else _answer(next(stored)) for answer in answers]


def _outgoing(send: Incoming) -> consultations.Outgoing:
    consultation_id = _consultation_id(send.key)
    if consultation_id is None:
        raise not_found()
    try:
        frame = schemas.SocketSend.model_validate(dict(send.payload))
    except ValidationError as exc:
        raise AppError(
            ErrorCode.validation_error,
            _("Send a client_id and a body of 1 to {count} characters.").format(
                count=schemas.MAX_BODY
            ),
            {"errors": [".".join(str(p) for p in e["loc"]) for e in exc.errors()]},
        ) from None
    return consultations.Outgoing(send.user, consultation_id, frame.client_id, frame.body)


def _answer(stored: tuple[schemas.MessageView, bool] | AppError) -> dict[str, Any] | AppError:
    if isinstance(stored, AppError):
        return stored
    message, _created = stored
    return schemas.message_json(message)
