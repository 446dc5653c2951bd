"""A draft prescription in the records schema's shape, and the two ways the assistant makes
one: the offline heuristic over what the doctor remembered and wrote, and reading a model's
JSON answer.

A draft is never a prescription: it only fills the records prescription form, which the
doctor checks and submits through records' own service. So a draft may hold what records
would refuse (a medicine row without a name), and a model's answer that records' schema
refuses is kept as text for the doctor to read, never lost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from pydantic import BaseModel, ValidationError

from clinicflow.records.schemas import MAX_MEDICATIONS, PrescriptionIn

MAX_SHORT = 200
MAX_LONG = 4000


class MedicationDraft(BaseModel):
    name: str = ""
    strength: str = ""
    dosage: str = ""
    route: str = ""
    frequency: str = ""
    duration: str = ""
    quantity: str = ""
    instructions: str = ""


class PrescriptionDraft(BaseModel):
    medications: list[MedicationDraft]
    lifestyle_advice: str = ""
    dietary_instructions: str = ""
    warning_signs: str = ""


# --- the offline heuristic ----------------------------------------------------------------

STRENGTH = re.compile(
    r"\b(?P<amount>\d+(?:[.,]\d+)?(?:/\d+(?:[.,]\d+)?)?)\s*"
    r"(?P<unit>mg|mcg|µg|micrograms?|g|ml|iu|units?|%)(?![\w/])",
    re.IGNORECASE,
)
NUMBER = r"(?:\d+|one|two|three|four|five|six|seven|ten|fourteen|half)"
FREQUENCY = re.compile(
    r"\b(?:once|twice|(?:one|two|three|four|\d+)\s+times?)\s+(?:a|per|each)\s+day\b"
    r"|\b(?:once|twice)\s+daily\b|\bdaily\b|\bevery\s+\d+\s+hours?\b|\bat\s+night\b"
    r"|\b(?:od|bd|bid|tds|tid|qds|qid|nocte|prn)\b",
    re.IGNORECASE,
)
DURATION = re.compile(
    rf"\b(?:for\s+)?{NUMBER}\s+(?:days?|weeks?|months?)\b(?!\s+ago)", re.IGNORECASE
)
DOSAGE = re.compile(
    rf"\b{NUMBER}\s+(?:tablets?|tabs?|capsules?|caps?|puffs?|drops?|sachets?|spoons?)\b",
    re.IGNORECASE,
)
ROUTE = re.compile(
    r"\b(?:by\s+mouth|orally|oral|topical(?:ly)?|inhaled|intravenous(?:ly)?|"
    r"intramuscular(?:ly)?|IV|IM|PO)\b",
    re.IGNORECASE,
)
INSTRUCTIONS = re.compile(
    r"\b(?:(?:after|with|before)\s+(?:food|meals?)|on\s+an\s+empty\s+stomach|as\s+needed)\b",
    re.IGNORECASE,
)
CLAUSES = re.compile(r"[;\n]|\.\s+")
# Words that come before a medicine's name in how doctors write ("start amoxicillin").
LEAD_WORDS = frozenset(
    [
        "remember",
        "start",
        "started",
        "give",
        "gave",
        "prescribe",
        "prescribed",
        "take",
        "taking",
        "continue",
        "add",
        "on",
        "use",
        "and",
        "then",
        "also",
        "plus",
        "rx",
        "the",
        "a",
        "an",
        "of",
    ]
)
NAME_WORDS = 3


def _name(before: str) -> str:
    """The medicine's name: up to three words right before its strength, without the verbs
    and fillers that lead into it."""
    words = re.findall(r"[A-Za-z][\w\-]*", before.split(",")[-1])[-NAME_WORDS:]
    while words and words[0].lower() in LEAD_WORDS:
        words.pop(0)
    return " ".join(words)[:MAX_SHORT]


def _found(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    return " ".join(match.group(0).split())[:MAX_SHORT] if match else ""


def medication_in(clause: str) -> MedicationDraft | None:
    """The medicine a clause names with its strength ("Amoxicillin 500 mg three times a day
    for 7 days"), or None: a clause without a strength is not taken for a medicine."""
    strength = STRENGTH.search(clause)
    if strength is None:
        return None
    name = _name(clause[: strength.start()])
    if not name:
        return None
    rest = clause[strength.end() :]
    duration = _found(DURATION, rest)
    return MedicationDraft(
        name=name,
        strength=" ".join(strength.group(0).split()),
        dosage=_found(DOSAGE, rest),
        route=_found(ROUTE, rest),
        frequency=_found(FREQUENCY, rest),
        duration=re.sub(r"^for\s+", "", duration, flags=re.IGNORECASE),
        instructions=_found(INSTRUCTIONS, rest),
    )


def medications_in(texts: Iterable[str]) -> list[MedicationDraft]:
    """Every medicine named with a strength, one per clause (clauses end at `;`, a new line
    or a full stop), in the order written; a name seen again is kept once."""
    found: dict[str, MedicationDraft] = {}
    for text in texts:
        for clause in CLAUSES.split(text):
            medication = medication_in(clause)
            if medication is not None:
                found.setdefault(medication.name.lower(), medication)
    return list(found.values())[:MAX_MEDICATIONS]


# --- a model's answer ---------------------------------------------------------------------

FENCE = re.compile(r"^\s*```(?:json)?\s*(?P<body>.*?)\s*```\s*$", re.DOTALL | re.IGNORECASE)


def from_answer(text: str) -> PrescriptionDraft:
    """The draft in an answer that should be the prescription's JSON, checked with records'
    own schema. An answer that does not pass becomes one empty medicine row with the whole
    answer in its instructions, for the doctor to read and complete."""
    fenced = FENCE.match(text)
    body = fenced["body"] if fenced else text
    try:
        prescription = PrescriptionIn.model_validate_json(body)
    except (ValidationError, json.JSONDecodeError):
        return PrescriptionDraft(
            medications=[MedicationDraft(instructions=text.strip()[:MAX_LONG])]
        )
    return PrescriptionDraft(
        medications=[
            MedicationDraft.model_validate(medication.model_dump())
            for medication in prescription.medications
        ],
        lifestyle_advice=prescription.lifestyle_advice,
        dietary_instructions=prescription.dietary_instructions,
        warning_signs=prescription.warning_signs,
    )
