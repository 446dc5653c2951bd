"""The queue's enums carry the words a person reads, in that person's language."""

from __future__ import annotations

import contextvars

from clinicflow import i18n
from clinicflow.core.labels import choices
from clinicflow.queue.schemas import EntryStatus, Severity


def _in(language: str, read: contextvars.Context) -> dict[str, str]:
    def labels() -> dict[str, str]:
        i18n.set_language(language)
        return {**choices(Severity), **choices(EntryStatus)}

    return read.run(labels)


def test_labels_are_read_in_the_readers_language() -> None:
    english = _in("en", contextvars.copy_context())
    swahili = _in("sw", contextvars.copy_context())
    assert english["emergency"] == "Emergency"
    assert english["skipped"] == "Missed their turn"
    assert (swahili["emergency"], swahili["no_show"], swahili["completed"]) == (
        "Dharura",
        "Hakufika",
        "Ameonwa",
    )
    assert list(choices(Severity)) == ["emergency", "urgent", "routine"]
    assert EntryStatus.waiting.label == english["waiting"]
