"""How a chat message asks the assistant: the mention (`@b`, `@assistant`) anywhere in it,
the command that follows, and the fixed words of the notices that end a question without
an answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from clinicflow.assistant.requests import Command
from clinicflow.consultations.schemas import ASSISTANT_MENTION

MENTION = ASSISTANT_MENTION
REMEMBER = re.compile(r"^remember\b[\s:,-]*(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
SUMMARY = re.compile(r"^(summary|summari[sz]e)\b", re.IGNORECASE)
RECALL = re.compile(
    r"^what\s+did\s+(?:i|we|you|the\s+patient|the\s+doctor)\s+(?:say|write|tell\s+\w+)\s+"
    r"(?:about|on|regarding)\s+(?P<topic>.+?)[\s?.!]*$",
    re.IGNORECASE | re.DOTALL,
)
DRAFT = re.compile(r"^draft\s+(?:a\s+)?prescription\b", re.IGNORECASE)


class Notice:
    """The fixed words of the system messages that end a question without an answer; the
    chat page translates them (`web/templates/assistant/_chat.html`, which must name each:
    tests/assistant/test_pages.py)."""

    rate_limited = "assistant_rate_limited"
    too_long = "assistant_too_long"
    doctor_only = "assistant_doctor_only"
    empty = "assistant_empty"
    failed = "assistant_failed"
    timeout = "assistant_timeout"
    cancelled = "assistant_cancelled"
    draft_ready = "assistant_draft_ready"


@dataclass(frozen=True)
class Question:
    command: Command
    text: str
    topic: str


def mentions(body: str) -> bool:
    return MENTION.search(body) is not None


def parse(body: str) -> Question | None:
    """The question a message asks the assistant, or None if it does not mention it."""
    match = MENTION.search(body)
    if match is None:
        return None
    # What follows the mention is the question ("Hey @b, summary"); a mention at the end
    # ("summary please @b") asks what came before it.
    after, before = body[match.end() :], body[: match.start()]
    text = " ".join(MENTION.sub(" ", after if after.strip(" ,:;-") else before).split())
    text = text.lstrip(",:;- ").strip()
    if found := REMEMBER.match(text):
        return Question(Command.remember, text, found["rest"].strip())
    if SUMMARY.match(text):
        return Question(Command.summary, text, "")
    if found := RECALL.match(text):
        return Question(Command.recall, text, found["topic"].strip())
    if DRAFT.match(text):
        return Question(Command.draft_prescription, text, "")
    return Question(Command.ask, text, text)
