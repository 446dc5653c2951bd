"""Opaque page cursors for lists ordered by (time, id): one format and one refusal for every
domain's "next page" link."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _


def encode(at: datetime, ident: uuid.UUID) -> str:
    raw = f"{at.isoformat()}|{ident}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (time, id) a cursor names, the time in UTC; a cursor that was not made by
    `encode` (or names a time without a zone, or one UTC cannot hold, which the database
    would refuse) is a 422 on `cursor`."""
    try:
        at_text, _sep, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None:
            raise ValueError(at_text)
        return at.astimezone(UTC), uuid.UUID(ident)
    except (ValueError, OverflowError, UnicodeDecodeError) as exc:
        raise AppError(
            ErrorCode.validation_error, _("The page cursor is not valid."), {"field": "cursor"}
        ) from exc
