"""Who may see which figures: decided here and nowhere else.

An administrator sees the clinic (all doctors, or one); a doctor sees their own figures
only, so asking for another doctor's is refused (403: the doctor knows their colleagues
exist, there is nothing to hide by a not-found); receptionists and patients see none.
"""

from __future__ import annotations

import uuid

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import Role


def scope_for(actor: Actor, doctor_id: uuid.UUID | None) -> uuid.UUID | None:
    """The doctor whose figures a request for `doctor_id` reads; None is the whole clinic
    (an administrator who named no doctor)."""
    if actor.role is Role.admin:
        return doctor_id
    if actor.role is Role.doctor:
        if doctor_id not in (None, actor.id):
            raise AppError(
                ErrorCode.forbidden,
                _("A doctor can see their own figures only."),
                {"field": "doctor_id"},
            )
        return actor.id
    raise AppError(ErrorCode.forbidden, _("Only administrators and doctors can see analytics."))
