"""HTTP routes of consultations: thin translations between JSON and the service.

Routes on one consultation answer an anonymous caller with the same 404 as a missing
consultation (the issue's rule), rather than a 401 that would say "sign in to see this".
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response, status
from starlette.datastructures import UploadFile

from clinicflow.consultations import schemas
from clinicflow.consultations import service as consultations
from clinicflow.consultations.models import Consultation
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.consultations.storage import file_store
from clinicflow.core.edge import BodyTooLarge
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.deps import CurrentUser, Reader, Session, SettingsDep, throttled
from clinicflow.i18n import gettext as _
from clinicflow.routing import TransactionalRoute, writes

router = APIRouter(prefix="/api", route_class=TransactionalRoute, tags=["consultations"])

# Boundaries and part headers around the file; anything beyond the file limit plus this is
# refused before it is read.
MULTIPART_OVERHEAD = 64 * 1024
# The one route whose body may be larger than the app's default limit (app.py gives it
# `attachment_max_bytes` plus the overhead; `_read_upload` then holds the file to its limit).
UPLOAD_PATH = re.compile(r"/api/consultations/[^/]+/attachments")
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "client_id": {"type": "string", "pattern": schemas.CLIENT_ID_PATTERN},
                    },
                }
            }
        },
    }
}
RESENT: dict[int | str, dict[str, Any]] = {
    200: {"model": schemas.MessageOut, "description": "A resend: the message stored earlier"}
}


async def _one(session: Session, consultation: Consultation) -> schemas.ConsultationOut:
    return (await consultations.describe(session, [consultation]))[0]


def _message_answer(
    response: Response, message: schemas.MessageView, created: bool
) -> schemas.MessageOut:
    if not created:
        response.status_code = status.HTTP_200_OK
    return schemas.message_out(message)


@router.post(
    "/consultations",
    status_code=status.HTTP_201_CREATED,
    dependencies=[throttled("consultation_requests")],
)
async def start_consultation(
    body: schemas.ConsultationIn, session: Session, user: CurrentUser, settings: SettingsDep
) -> schemas.ConsultationOut:
    consultation = await consultations.start(
        session=session,
        actor=user,
        max_pending=settings.max_pending_consultations,
        doctor_id=body.doctor_id,
        problem=body.problem,
        type=body.type,
        appointment_id=body.appointment_id,
    )
    return await _one(session, consultation)


@router.get("/consultations")
async def list_consultations(
    session: Session,
    user: CurrentUser,
    status_filter: Annotated[ConsultationStatus | None, Query(alias="status")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> schemas.ConsultationPage:
    """Mine: a patient's or a doctor's own consultations (all of them for an admin), newest
    first, a page at a time."""
    items, next_cursor = await consultations.list_consultations(
        session=session, actor=user, status=status_filter, cursor=cursor, limit=limit
    )
    return schemas.ConsultationPage(
        items=await consultations.describe(session, items), next_cursor=next_cursor
    )


@router.get("/desk/consultations")
async def desk_consultations(
    session: Session,
    user: CurrentUser,
    status_filter: Annotated[ConsultationStatus | None, Query(alias="status")] = None,
) -> list[schemas.DeskEntry]:
    """For the front desk: who is in consultation with whom (pending and active by default),
    never what it is about."""
    return await consultations.desk(session=session, actor=user, status=status_filter)


@router.get("/consultations/{consultation_id}")
async def get_consultation(
    consultation_id: uuid.UUID, session: Session, user: Reader
) -> schemas.ConsultationOut:
    consultation = await consultations.get_consultation(
        session=session, actor=user, consultation_id=consultation_id
    )
    return await _one(session, consultation)


@router.post("/consultations/{consultation_id}/accept")
async def accept_consultation(
    consultation_id: uuid.UUID, session: Session, user: Reader
) -> schemas.ConsultationOut:
    consultation = await consultations.accept(
        session=session, actor=user, consultation_id=consultation_id
    )
    return await _one(session, consultation)


@router.post("/consultations/{consultation_id}/decline")
async def decline_consultation(
    consultation_id: uuid.UUID,
    body: schemas.DeclineIn,
    session: Session,
    user: Reader,
) -> schemas.ConsultationOut:
    consultation = await consultations.decline(
        session=session,
        actor=user,
        consultation_id=consultation_id,
        reason=body.reason,
    )
    return await _one(session, consultation)


@router.post("/consultations/{consultation_id}/end")
async def end_consultation(
    consultation_id: uuid.UUID, session: Session, user: Reader
) -> schemas.ConsultationOut:
    consultation = await consultations.end(
        session=session, actor=user, consultation_id=consultation_id
    )
    return await _one(session, consultation)


@router.post(
    "/consultations/{consultation_id}/join", status_code=status.HTTP_201_CREATED, responses=RESENT
)
async def join_consultation(
    consultation_id: uuid.UUID, session: Session, user: Reader, response: Response
) -> schemas.MessageOut:
    """Record "joined" in the conversation, once per person (later calls answer 200 with it)."""
    message, created = await consultations.join(
        session=session, actor=user, consultation_id=consultation_id
    )
    return _message_answer(response, message, created)


@router.get("/consultations/{consultation_id}/messages")
@writes
async def list_messages(
    consultation_id: uuid.UUID,
    session: Session,
    user: Reader,
    before_seq: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> schemas.MessagePage:
    """History backwards by `seq`, oldest first within the page. A staff read is audited."""
    messages, earlier = await consultations.history(
        session=session,
        actor=user,
        consultation_id=consultation_id,
        before_seq=before_seq,
        limit=limit,
    )
    return schemas.MessagePage(items=[schemas.message_out(m) for m in messages], before_seq=earlier)


@router.post(
    "/consultations/{consultation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    responses=RESENT,
)
async def send_message(
    consultation_id: uuid.UUID,
    body: schemas.MessageIn,
    session: Session,
    user: Reader,
    response: Response,
) -> schemas.MessageOut:
    """201 with the new message; 200 with the stored one when this `client_id` was sent
    before (a retry after a lost answer stores nothing new)."""
    message, created = await consultations.send_message(
        session=session,
        actor=user,
        consultation_id=consultation_id,
        client_id=body.client_id,
        body=body.body,
    )
    return _message_answer(response, message, created)


async def _read_upload(request: Request, max_bytes: int) -> tuple[str, bytes, str | None]:
    """(filename, bytes, client_id) of the multipart `file`.

    The body is read through the request's own stream, which the edge's body limit
    (`core.edge`, this path's limit is the file's plus the multipart overhead) refuses as it
    streams in (and one declared larger before the route runs), so neither memory nor the
    temporary spool grows with what a client sends. A second `Request` over the same `receive` must not be made here: whatever read the
    body first (an error reporter's request capture, say) leaves it waiting for bytes that
    already came, until the client gives up (docs/testing.md, the upload that never
    answered).
    """
    try:
        async with request.form(max_files=1, max_fields=4, max_part_size=1024) as form:
            upload = form.get("file")
            client_id = form.get("client_id")
            if not isinstance(upload, UploadFile):
                raise AppError(
                    ErrorCode.validation_error,
                    _('Attach the file as the multipart field "file".'),
                    {"field": "file"},
                )
            data = await upload.read(max_bytes + 1)
    except BodyTooLarge:
        raise consultations.file_too_large(max_bytes) from None
    return (
        upload.filename or "file",
        data,
        client_id if isinstance(client_id, str) and client_id else None,
    )


@router.post(
    "/consultations/{consultation_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    dependencies=[throttled("uploads")],
    responses=RESENT,
    openapi_extra=UPLOAD_BODY,
)
async def upload_attachment(
    consultation_id: uuid.UUID,
    request: Request,
    session: Session,
    settings: SettingsDep,
    user: Reader,
    response: Response,
) -> schemas.MessageOut:
    """An image (PNG, JPEG, GIF, WebP) or PDF of at most 10 MB, as multipart field `file`
    (optional field `client_id` makes a retry safe). The type is read from the bytes."""
    filename, data, client_id = await _read_upload(request, settings.attachment_max_bytes)
    message, created = await consultations.add_attachment(
        session=session,
        actor=user,
        store=file_store(settings),
        consultation_id=consultation_id,
        filename=filename,
        data=data,
        max_bytes=settings.attachment_max_bytes,
        client_id=client_id,
    )
    return _message_answer(response, message, created)


def _content_disposition(filename: str) -> str:
    fallback = filename.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "")
    return f"attachment; filename=\"{fallback or 'file'}\"; filename*=UTF-8''{quote(filename)}"


@router.get("/consultations/{consultation_id}/attachments/{attachment_id}", response_class=Response)
@writes
async def download_attachment(
    consultation_id: uuid.UUID,
    attachment_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: Reader,
) -> Response:
    """Always a download (never shown inline by the browser), with the type found at upload."""
    attachment, data = await consultations.read_attachment(
        session=session,
        actor=user,
        store=file_store(settings),
        consultation_id=consultation_id,
        attachment_id=attachment_id,
    )
    return Response(
        data,
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": _content_disposition(attachment.filename),
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/consultations/{consultation_id}/notes")
@writes
async def read_notes(
    consultation_id: uuid.UUID, session: Session, user: Reader
) -> schemas.NotesOut:
    """The doctor's private notes: the doctor and admins only, every read audited."""
    notes = await consultations.read_notes(
        session=session, actor=user, consultation_id=consultation_id
    )
    return schemas.NotesOut(notes=notes)


@router.put("/consultations/{consultation_id}/notes")
async def write_notes(
    consultation_id: uuid.UUID,
    body: schemas.NotesIn,
    session: Session,
    user: Reader,
) -> schemas.NotesOut:
    notes = await consultations.write_notes(
        session=session,
        actor=user,
        consultation_id=consultation_id,
        notes=body.notes,
    )
    return schemas.NotesOut(notes=notes)


@router.put("/consultations/{consultation_id}/recording")
async def set_recording(
    consultation_id: uuid.UUID,
    body: schemas.RecordingIn,
    session: Session,
    user: Reader,
) -> schemas.ConsultationOut:
    """Where an audio or video consultation's recording is, how long and how large."""
    consultation = await consultations.set_recording(
        session=session,
        actor=user,
        consultation_id=consultation_id,
        url=body.url,
        duration_seconds=body.duration_seconds,
        size_bytes=body.size_bytes,
    )
    return await _one(session, consultation)
