"""Who may read the audit trail: decided here and nowhere else.

The trail names every person's actions and addresses, so only an administrator reads it.
"""

from __future__ import annotations

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import Role


def require_auditor(actor: Actor) -> None:
    """The audit log and its export are for administrators."""
    if actor.role is not Role.admin:
        raise AppError(ErrorCode.forbidden, _("Only an administrator can read the audit log."))
