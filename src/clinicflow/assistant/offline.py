"""The offline provider, the default: it answers by retrieval (Okapi BM25) over one
consultation's memory and transcript, with no network and no model."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from zoneinfo import ZoneInfo

from clinicflow.assistant import prescription
from clinicflow.assistant.requests import Command, Quote, Request
from clinicflow.i18n import gettext_in

# --- retrieval ---------------------------------------------------------------------------------

WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "about",
        "said",
        "say",
        "tell",
        "told",
        "please",
        "any",
        "all",
        "there",
        "been",
        "can",
        "could",
        "would",
        "should",
        "just",
        "also",
        "than",
        "then",
        "into",
        "out",
        "up",
        "down",
        "over",
        "under",
        "again",
        "na",
        "ya",
        "wa",
        "kwa",
        "ni",
        "la",
        "za",
    ]
)
SUFFIXES = ("ing", "ed", "es", "s")


def terms(text: str) -> list[str]:
    """Lower-case words without stopwords and with the commonest English endings cut, so
    "coughing" finds "cough"."""
    found = []
    for word in WORD.findall(text.lower()):
        if word in STOPWORDS or len(word) < 2:
            continue
        for suffix in SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        found.append(word)
    return found


def rank(query: str, quotes: Sequence[Quote], *, k1: float = 1.5, b: float = 0.75) -> list[Quote]:
    """The quotes that share a term with the query, best first (Okapi BM25)."""
    wanted = set(terms(query))
    if not wanted or not quotes:
        return []
    documents = [Counter(terms(quote.text)) for quote in quotes]
    average = sum(sum(d.values()) for d in documents) / len(documents) or 1.0
    frequency = Counter(term for d in documents for term in set(d) if term in wanted)
    total = len(documents)
    scored = []
    for index, (quote, counts) in enumerate(zip(quotes, documents, strict=True)):
        length = sum(counts.values())
        score = 0.0
        for term in wanted:
            tf = counts.get(term, 0)
            if not tf:
                continue
            idf = math.log(1 + (total - frequency[term] + 0.5) / (frequency[term] + 0.5))
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))
        if score > 0:
            scored.append((score, index, quote))
    scored.sort(key=lambda entry: (-entry[0], -entry[1]))
    return [quote for _score, _index, quote in scored]


def quote_line(quote: Quote, request: Request) -> str:
    """`- 12:05 (who): "text"`: the time on the clinic's clock (24-hour, as both languages
    write it), the label in the reader's language."""
    when = quote.at.astimezone(ZoneInfo(request.zone)).strftime("%H:%M")
    label = gettext_in(request.language, "remembered") if quote.source == "memory" else quote.who
    return f'- {when} ({label}): "{quote.text}"'


# --- the offline provider ----------------------------------------------------------------------


class OfflineProvider:
    """Answers by retrieval over this consultation's memory and transcript only: quotes the
    best matches with their times, and says plainly when nothing matches."""

    name = "offline"
    MATCHES = 3
    SUMMARY_MESSAGES = 8

    async def answer(self, request: Request) -> AsyncIterator[str]:
        for line in self._lines(request):
            yield line + "\n"

    def _lines(self, request: Request) -> list[str]:
        if request.command is Command.summary:
            return self._summary(request)
        if request.command is Command.draft_prescription:
            return self._draft(request)
        topic = request.topic or request.question
        found = rank(topic, [*request.memory, *request.transcript])[: self.MATCHES]
        if not found:
            return [
                gettext_in(
                    request.language, 'I have nothing about "{topic}" in this consultation.'
                ).format(topic=topic)
            ]
        return [
            gettext_in(
                request.language, 'Here is what this consultation holds about "{topic}":'
            ).format(topic=topic),
            *(quote_line(quote, request) for quote in found),
        ]

    def _summary(self, request: Request) -> list[str]:
        language = request.language
        lines = [
            gettext_in(language, "Summary so far. Problem: {problem}").format(
                problem=request.problem
            )
        ]
        if request.memory:
            lines.append(gettext_in(language, "Remembered findings and instructions:"))
            lines.extend(quote_line(quote, request) for quote in request.memory)
        if request.transcript:
            lines.append(
                gettext_in(language, "{count} messages; the latest:").format(
                    count=len(request.transcript)
                )
            )
            lines.extend(
                quote_line(q, request) for q in request.transcript[-self.SUMMARY_MESSAGES :]
            )
        else:
            lines.append(gettext_in(language, "Nothing has been said yet."))
        return lines

    def _draft(self, request: Request) -> list[str]:
        """The prescription's JSON from the medicines the doctor named with a strength (in
        memory or in their own messages; the patient's words, such as what they already
        take, are not a prescription). With none, a sentence saying so, which becomes the
        instructions of an empty row (`prescription.from_answer`)."""
        found = prescription.medications_in(
            quote.text for quote in [*request.memory, *request.transcript] if quote.by_doctor
        )
        if not found:
            return [
                gettext_in(
                    request.language, "I found no medicine with its strength in this consultation."
                )
            ]
        return [prescription.PrescriptionDraft(medications=found).model_dump_json()]
