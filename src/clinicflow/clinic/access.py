"""Who may read and change the clinic's settings: the one place that decides it."""

from __future__ import annotations

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _

# identity.schemas.Role.admin's value: the clinic sits below identity and compares the
# actor's role by value rather than importing it.
ADMIN = "admin"


def is_admin(actor: Actor) -> bool:
    """An administrator (a deactivated one cannot sign in, so is never an actor here)."""
    return str(getattr(actor.role, "value", actor.role)) == ADMIN


def require_settings_editor(actor: Actor) -> None:
    """The clinic's settings are an administrator's: they read them on the settings page
    and change them there. Everyone else reads the effects (times, names), never the form."""
    if not is_admin(actor):
        raise AppError(
            ErrorCode.forbidden, _("Only an administrator can see or change the clinic's settings.")
        )
