"""The words several queue pages show that belong to no enum, in the reader's language (an
enum's own words come from its `label`)."""

from __future__ import annotations

from clinicflow.i18n import gettext as _


def doctor_state_labels() -> dict[str, str]:
    """The doctor's state as a patient or the staff read it: the waiting room's script
    and the staff pages' templates."""
    return {
        "paused": _("The doctor has paused the queue for a moment."),
        "away": _("The doctor is away right now."),
        "serving": _("The doctor is seeing token {token}."),
        "idle": _("The doctor will call the next patient soon."),
    }
