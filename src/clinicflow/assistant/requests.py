"""What a provider is given and what it must do with it.

A `Request` holds everything a provider may use (the command, the question, the memory
items and the transcript, all of one consultation) and nothing else, so a provider cannot
mix consultations whatever it does; it also says in which language and time zone the answer
is read, so no provider uses the answering process's own. `Provider` is the one thing every provider does: answer
a request as a stream of text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from clinicflow.i18n import DEFAULT_LANGUAGE


class Command(StrEnum):
    summary = "summary"
    remember = "remember"
    recall = "recall"
    draft_prescription = "draft_prescription"
    ask = "ask"


@dataclass(frozen=True)
class Quote:
    """One thing the assistant may draw on: a memory item or a message, with its time."""

    source: str  # "memory" or "message"
    id: str
    at: datetime
    who: str
    text: str
    seq: int | None = None
    # Written by the consultation's doctor (a memory item, or one of their messages).
    by_doctor: bool = False


@dataclass(frozen=True)
class Request:
    command: Command
    question: str
    topic: str
    memory: Sequence[Quote]
    transcript: Sequence[Quote]
    patient_name: str
    problem: str
    # "doctor" or "patient": a patient's answers never draw on memory nor diagnose.
    asker: str
    # Whoever reads the answer (the asker: the doctor privately, the patient in the chat)
    # reads it in their language and the clinic's time zone, whichever process answers.
    language: str = DEFAULT_LANGUAGE
    zone: str = "UTC"


class Provider(Protocol):
    name: str

    def answer(self, request: Request) -> AsyncIterator[str]:
        """The answer, piece by piece; raises on failure."""
        ...
