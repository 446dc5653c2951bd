"""The words the staff pages and their scripts show, in the reader's language (the enums'
own words come from their `label`)."""

from __future__ import annotations

from typing import Any

from clinicflow.core.labels import choices
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import PatientType
from clinicflow.queue.schemas import EntryStatus, Severity


def patient_type_labels() -> dict[str, str]:
    """Identity's patient types; their words move beside the enum when identity's does."""
    return {
        PatientType.adult.value: _("Adult"),
        PatientType.child.value: _("Child"),
        PatientType.elderly.value: _("Elderly"),
        PatientType.pregnant.value: _("Pregnant"),
        PatientType.disabled.value: _("Disabled"),
    }


def doctor_state_labels() -> dict[str, str]:
    return {
        "paused": _("The doctor has paused the queue for a moment."),
        "away": _("The doctor is away right now."),
        "serving": _("The doctor is seeing token {token}."),
        "idle": _("The doctor will call the next patient soon."),
    }


def staff_text() -> dict[str, Any]:
    """What `queue-staff.js` writes on the desk's and the doctor's pages."""
    return {
        "status": choices(EntryStatus),
        "severity": choices(Severity),
        "patient_type": patient_type_labels(),
        "doctor": doctor_state_labels(),
        "token": _("Token {token}"),
        "serving": _("Now serving: {token}"),
        "nobody_serving": _("Nobody has been called yet."),
        "empty": _("Nobody is waiting."),
        "waiting_count": _("Waiting: {count}"),
        "ready": _("Ready"),
        "not_ready": _("Not ready yet"),
        "online": _("Online"),
        "in_person": _("In person"),
        "unnamed": _("Patient"),
        "choose": _("Choose a patient"),
        "moved": _("Moved."),
        "failed": _("That did not work. Check your connection and try again."),
        "no_current": _("Nobody is with you. Call the next patient when you are ready."),
        "chart": _("Patient chart"),
        "paused": _("Paused"),
        "pause": _("Pause"),
        "resume": _("Resume"),
        "recall": _("Call again"),
        "no_show": _("No-show"),
        "missed": _("Missed their turn"),
        "called_at": _("Called at {time}"),
    }
