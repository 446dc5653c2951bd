"""The words a person reads for a stored value, kept beside the value's enum.

An enum that people read defines a `label` property that returns the translated words
(translated when read, in the reader's language). Python code reads `status.label`; a
template reads `{{ entry.status.label }}`, or `choices(Status)` for a select's options, so no
second list of labels lives in a template.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)


def choices(enum: type[E]) -> dict[str, str]:
    """Every value of a labelled enum with its words, in declaration order (a select's options)."""
    return {member.value: member.label for member in enum}  # type: ignore[attr-defined]
