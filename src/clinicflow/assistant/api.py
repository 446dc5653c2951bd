"""HTTP routes of the assistant: the doctor's memory panel, cancelling an answer, sharing a
private answer with the patient, and the doctor's draft prescription.

Asking needs no route of its own: a chat message that mentions `@b` is the question.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from clinicflow.assistant import drafts, memory_stores, schemas
from clinicflow.assistant import service as assistant
from clinicflow.consultations import schemas as consultation_schemas
from clinicflow.deps import Reader, RuntimeDep, Session
from clinicflow.routing import TransactionalRoute, writes

router = APIRouter(
    prefix="/api/consultations/{consultation_id}/assistant",
    route_class=TransactionalRoute,
    tags=["assistant"],
)


async def _store(runtime: RuntimeDep, session: Session) -> memory_stores.MemoryStore:
    return memory_stores.store_for(runtime.settings, runtime.redis, session)


Store = Annotated[memory_stores.MemoryStore, Depends(_store)]


@router.get("/memory")
@writes
async def list_memory(
    consultation_id: uuid.UUID, session: Session, user: Reader, store: Store
) -> schemas.MemoryList:
    """The consultation's memory, oldest first: its doctor only (403 for the patient)."""
    items = await assistant.list_memory(
        session=session, actor=user, store=store, consultation_id=consultation_id
    )
    return schemas.MemoryList(items=[schemas.memory_out(item) for item in items])


@router.post("/memory", status_code=status.HTTP_201_CREATED)
async def add_memory(
    consultation_id: uuid.UUID,
    body: schemas.MemoryIn,
    session: Session,
    user: Reader,
    store: Store,
) -> schemas.MemoryOut:
    item = await assistant.add_memory(
        session=session,
        actor=user,
        store=store,
        consultation_id=consultation_id,
        text=body.text,
        message_seq=body.message_seq,
    )
    return schemas.memory_out(item)


@router.patch("/memory/{item_id}")
async def update_memory(
    consultation_id: uuid.UUID,
    item_id: uuid.UUID,
    body: schemas.MemoryPatch,
    session: Session,
    user: Reader,
    store: Store,
) -> schemas.MemoryOut:
    item = await assistant.update_memory(
        session=session,
        actor=user,
        store=store,
        consultation_id=consultation_id,
        item_id=item_id,
        text=body.text,
    )
    return schemas.memory_out(item)


@router.delete("/memory/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_memory(
    consultation_id: uuid.UUID, item_id: uuid.UUID, session: Session, user: Reader, store: Store
) -> Response:
    await assistant.delete_memory(
        session=session, actor=user, store=store, consultation_id=consultation_id, item_id=item_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/cancel")
async def cancel_answer(
    consultation_id: uuid.UUID, body: schemas.CancelIn, session: Session, user: Reader
) -> consultation_schemas.MessageOut:
    """Stop the answer to your own question; the chat then says it was cancelled (409 once
    it has been answered)."""
    outcome = await assistant.cancel(
        session=session, actor=user, consultation_id=consultation_id, question_seq=body.question_seq
    )
    return consultation_schemas.message_out(outcome)


@router.post("/share")
async def share_answer(
    consultation_id: uuid.UUID, body: schemas.ShareIn, session: Session, user: Reader
) -> consultation_schemas.MessageOut:
    """Post your private answer at `seq` into the chat as your message (404 unless it is one)."""
    shared = await assistant.share(
        session=session, actor=user, consultation_id=consultation_id, answer_seq=body.seq
    )
    return consultation_schemas.message_out(shared)


@router.get("/draft")
@writes
async def read_draft(
    consultation_id: uuid.UUID, session: Session, user: Reader
) -> schemas.DraftOut:
    """The draft prescription waiting for the doctor; 404 for anyone else, or when none."""
    row = await drafts.read(session=session, actor=user, consultation_id=consultation_id)
    return schemas.draft_out(row)


@router.delete("/draft", status_code=status.HTTP_204_NO_CONTENT)
async def discard_draft(consultation_id: uuid.UUID, session: Session, user: Reader) -> Response:
    await drafts.discard(session=session, actor=user, consultation_id=consultation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
