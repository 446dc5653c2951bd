"""The queue's refusals that more than one verb gives (409s with details for the client)."""

from __future__ import annotations

from typing import Any

from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _


def conflict(code: ErrorCode, message: str, **details: Any) -> AppError:
    return AppError(code, message, details)


def already_in_queue(**details: Any) -> AppError:
    return conflict(
        ErrorCode.already_in_queue, _("This patient already has a place in this queue."), **details
    )
