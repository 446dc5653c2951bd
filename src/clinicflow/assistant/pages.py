"""What the chat page needs from the assistant: the words of its system messages, and for
the doctor the memory panel (patients get neither the panel nor the "remember" action)."""

from __future__ import annotations

import uuid
from typing import Any

from clinicflow.assistant import access
from clinicflow.assistant.service import Notice
from clinicflow.core.audit import Actor
from clinicflow.i18n import gettext as _


def system_words() -> dict[str, str]:
    return {
        Notice.rate_limited: _("Too many questions to the assistant. Try again later."),
        Notice.too_long: _("That question is too long for the assistant."),
        Notice.doctor_only: _("Only the doctor can ask the assistant for that."),
        Notice.empty: _("Tell the assistant what to remember."),
        Notice.failed: _("The assistant could not answer. Ask again."),
        Notice.timeout: _("The assistant took too long to answer. Ask again."),
        Notice.cancelled: _("The answer was cancelled."),
        Notice.draft_ready: _("The assistant prepared a draft for the doctor to check."),
    }


def chat_config(user: Actor, doctor_id: uuid.UUID) -> dict[str, Any]:
    return {
        "panel": access.is_doctor_of(user, doctor_id),
        "text": {
            "name": _("Assistant"),
            "thinking": _("Thinking…"),
            "cancel": _("Cancel"),
            "remember": _("Remember"),
            "edit": _("Edit"),
            "save": _("Save"),
            "delete": _("Delete"),
            "empty": _("Nothing remembered yet."),
            "discard": _("Discard"),
            "open_form": _("Open in prescription form"),
            "draft_waits": _(
                "The prescription form opens once the consultation has ended. "
                "Nothing reaches the patient until you issue it."
            ),
            "draft_check": _(
                "Check it in the form; nothing reaches the patient until you issue it."
            ),
        },
    }
