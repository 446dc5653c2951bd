"""Files in the conversation: images and PDFs, known by their bytes, stored encrypted and
announced as attachment messages; downloads follow the read rules and are audited for staff.
"""

from __future__ import annotations

import asyncio
import re
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import access, schemas
from clinicflow.consultations.models import Attachment
from clinicflow.consultations.schemas import MessageKind
from clinicflow.consultations.service.checks import check_client_id
from clinicflow.consultations.service.sending import (
    append,
    by_client_id,
    resent,
    sender_role_of,
)
from clinicflow.consultations.storage import FileStore
from clinicflow.core import audit, clock, security
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _

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
    check_client_id(client_id)
    existing = await by_client_id(session, consultation.id, client_id)
    if existing is not None:
        return resent(existing, actor), False
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
    message, created = await append(
        session,
        consultation,
        client_id=client_id,
        sender_id=actor.id,
        sender_role=sender_role_of(actor, consultation),
        kind=MessageKind.attachment,
        body=attachment.filename,
        statuses=statuses,
        attachment=attachment,
    )
    return (message, True) if created else (resent(message, actor), False)


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
            details={"attachment_id": str(attachment.id)},
        )
    return attachment, data
