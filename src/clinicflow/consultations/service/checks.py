"""What a consultation accepts as input: text, client ids and page sizes.

The API's schemas refuse most bad input first; these checks are the service's own, so the
socket, the pages and the CLI meet the same rules.
"""

from __future__ import annotations

import re

from clinicflow.consultations import schemas
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import CONTROL_CHARACTERS

# The most rows one read answers, whatever the caller asks for.
MAX_PAGE = 100
CLIENT_ID = re.compile(schemas.CLIENT_ID_PATTERN)


def invalid(field: str, message: str) -> AppError:
    return AppError(ErrorCode.validation_error, message, {"field": field})


def valid_text(value: str, *, field: str, max_length: int, required: bool = True) -> str:
    """Refuse what cannot be a sentence: empty, too long, or with control characters (which
    PostgreSQL cannot always store and no clinical text needs)."""
    if required and not value.strip():
        raise invalid(field, _("Write something first."))
    if len(value) > max_length:
        raise invalid(field, _("At most {count} characters, please.").format(count=max_length))
    if CONTROL_CHARACTERS.search(value):
        raise invalid(field, _("The text contains characters that cannot be stored."))
    return value


def check_client_id(client_id: str) -> None:
    if not CLIENT_ID.fullmatch(client_id):
        raise invalid(
            "client_id",
            _("The message id must be 1 to 64 letters, digits, dots, dashes or underscores."),
        )
