"""One error type, one JSON shape.

Services raise `AppError(ErrorCode.x, message, details)` and know nothing of HTTP; the
code alone decides the status, so the same refusal always looks the same to clients:
`{"error": {"code": "...", "message": "...", "details": {...}}}`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from clinicflow.db import KeepChanges
from clinicflow.i18n import gettext as _


class ErrorCode(StrEnum):
    validation_error = "validation_error"
    bad_request = "bad_request"
    not_found = "not_found"
    method_not_allowed = "method_not_allowed"
    authentication_required = "authentication_required"
    invalid_token = "invalid_token"
    token_reused = "token_reused"
    forbidden = "forbidden"
    csrf_failed = "csrf_failed"
    invalid_credentials = "invalid_credentials"
    account_inactive = "account_inactive"
    rate_limited = "rate_limited"
    invalid_code = "invalid_code"
    code_expired = "code_expired"
    too_many_attempts = "too_many_attempts"
    name_required = "name_required"
    wrong_login_method = "wrong_login_method"
    email_taken = "email_taken"
    phone_taken = "phone_taken"
    cannot_modify_self = "cannot_modify_self"
    last_admin = "last_admin"
    password_change_required = "password_change_required"
    invalid_invitation = "invalid_invitation"
    wrong_password = "wrong_password"
    slot_taken = "slot_taken"
    slot_unavailable = "slot_unavailable"
    too_late_to_change = "too_late_to_change"
    appointment_limit = "appointment_limit"
    invalid_transition = "invalid_transition"
    consultation_not_open = "consultation_not_open"
    client_id_taken = "client_id_taken"
    file_too_large = "file_too_large"
    body_too_large = "body_too_large"
    too_many_pending = "too_many_pending"
    unsupported_file_type = "unsupported_file_type"
    recording_not_allowed = "recording_not_allowed"
    already_in_queue = "already_in_queue"
    check_in_not_open = "check_in_not_open"
    queue_empty = "queue_empty"
    queue_paused = "queue_paused"
    doctor_busy = "doctor_busy"
    meet_link_required = "meet_link_required"
    nothing_to_undo = "nothing_to_undo"
    rules_changed = "rules_changed"
    already_superseded = "already_superseded"
    allergy_conflict = "allergy_conflict"
    duplicate_therapy = "duplicate_therapy"
    service_unavailable = "service_unavailable"
    channel_not_allowed = "channel_not_allowed"
    internal_error = "internal_error"
    nothing_to_cancel = "nothing_to_cancel"
    settings_changed = "settings_changed"
    cursor_expired = "cursor_expired"


STATUS: dict[ErrorCode, int] = {
    ErrorCode.validation_error: 422,
    ErrorCode.bad_request: 400,
    ErrorCode.not_found: 404,
    ErrorCode.method_not_allowed: 405,
    ErrorCode.authentication_required: 401,
    ErrorCode.invalid_token: 401,
    ErrorCode.token_reused: 401,
    ErrorCode.forbidden: 403,
    ErrorCode.csrf_failed: 403,
    ErrorCode.invalid_credentials: 401,
    ErrorCode.account_inactive: 403,
    ErrorCode.rate_limited: 429,
    ErrorCode.invalid_code: 400,
    ErrorCode.code_expired: 400,
    ErrorCode.too_many_attempts: 400,
    ErrorCode.name_required: 422,
    ErrorCode.wrong_login_method: 400,
    ErrorCode.email_taken: 409,
    ErrorCode.phone_taken: 409,
    ErrorCode.cannot_modify_self: 409,
    ErrorCode.last_admin: 409,
    ErrorCode.password_change_required: 403,
    ErrorCode.invalid_invitation: 400,
    ErrorCode.wrong_password: 400,
    ErrorCode.slot_taken: 409,
    ErrorCode.slot_unavailable: 422,
    ErrorCode.too_late_to_change: 409,
    ErrorCode.appointment_limit: 409,
    ErrorCode.invalid_transition: 409,
    ErrorCode.consultation_not_open: 409,
    ErrorCode.client_id_taken: 409,
    ErrorCode.file_too_large: 413,
    ErrorCode.body_too_large: 413,
    ErrorCode.too_many_pending: 409,
    ErrorCode.unsupported_file_type: 415,
    ErrorCode.recording_not_allowed: 409,
    ErrorCode.already_in_queue: 409,
    ErrorCode.check_in_not_open: 409,
    ErrorCode.queue_empty: 409,
    ErrorCode.queue_paused: 409,
    ErrorCode.doctor_busy: 409,
    ErrorCode.meet_link_required: 409,
    ErrorCode.nothing_to_undo: 409,
    ErrorCode.rules_changed: 409,
    ErrorCode.already_superseded: 409,
    ErrorCode.allergy_conflict: 409,
    ErrorCode.duplicate_therapy: 409,
    ErrorCode.service_unavailable: 503,
    ErrorCode.channel_not_allowed: 422,
    ErrorCode.internal_error: 500,
    ErrorCode.nothing_to_cancel: 409,
    ErrorCode.settings_changed: 409,
    ErrorCode.cursor_expired: 410,
}


class AppError(Exception):
    def __init__(
        self,
        code: ErrorCode,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


class RecordedRefusal(KeepChanges, AppError):
    """A refusal whose bookkeeping (attempt counters, audit rows) must be committed."""


class RateLimited(RecordedRefusal):
    def __init__(self, retry_after: int) -> None:
        retry_after = max(1, retry_after)
        super().__init__(
            ErrorCode.rate_limited,
            _("Too many attempts. Try again in a few minutes."),
            {"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


def error_body(
    code: ErrorCode, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code.value, "message": message, "details": details or {}}}


def not_found() -> AppError:
    """The one answer for "missing" and "not yours", so outsiders cannot tell them apart."""
    return AppError(ErrorCode.not_found, _("Not found."))
