"""Who may see which figures: decided here and nowhere else.

An administrator sees the clinic (all doctors, or one); a doctor sees their own figures
only, so asking for another doctor's is refused (403: the doctor knows their colleagues
exist, there is nothing to hide by a not-found); receptionists and patients see none.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import Role


@dataclass(frozen=True)
class Scope:
    """The figures an actor may read: one doctor's, or (None) the whole clinic's."""

    doctor_id: uuid.UUID | None

    @property
    def clinic_wide(self) -> bool:
        return self.doctor_id is None


def may_see_analytics(role: Role | None) -> bool:
    return role in (Role.admin, Role.doctor)


def scope_for(actor: Actor, doctor_id: uuid.UUID | None) -> Scope:
    """The scope of a request for `doctor_id` (None: everyone the actor may see)."""
    if actor.role is Role.admin:
        return Scope(doctor_id)
    if actor.role is Role.doctor:
        if doctor_id not in (None, actor.id):
            raise AppError(
                ErrorCode.forbidden,
                _("A doctor can see their own figures only."),
                {"field": "doctor_id"},
            )
        return Scope(actor.id)
    raise AppError(ErrorCode.forbidden, _("Only administrators and doctors can see analytics."))
