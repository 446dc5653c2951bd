"""Understanding a booking request by rules, offline: no network, no model.

`understand(text, today=…, specialties=…, doctors=…)` turns what a patient writes to a
receptionist, in English or Swahili ("I need a skin doctor next week, mornings",
"Nahitaji daktari wa watoto kesho mchana"), into a `Wish`: which days, which part of the
day, which specialty or doctor, and whether it answers an offer (a choice, yes or no).

Rules, each tested in tests/assistant/test_understanding.py:
- days are relative to `today` (the clinic's date): today/leo, tomorrow/kesho, the day after
  tomorrow/keshokutwa, "in 3 days"/"baada ya siku 3", a weekday (the next one after today),
  "next <weekday>"/"<weekday> ijayo" (that weekday in the coming week: a week later when the
  next one falls in this week), this week/wiki hii (today to Sunday), next week/wiki ijayo
  (Monday to Sunday), the weekend/wikendi (the coming Saturday and Sunday), a date ("the 3rd",
  "tarehe 3", "3 December", "desemba 3": the next such day, across a month or year end);
- parts of the day: morning/asubuhi (before 12:00), afternoon/mchana (12:00 to 16:00),
  evening/jioni/usiku (from 16:00);
- a specialty by its name in the clinic's list (English or Swahili) or a common word for it
  ("skin", "ngozi", "watoto", "children", "heart", "moyo", ...);
- a doctor by any word of their name (not "Dr");
- misspellings: a word of four letters or more within a small edit of a known one counts
  as that word ("tommorow", "asubui", "dermatolgy", "jumatanu").
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from difflib import get_close_matches
from enum import StrEnum
from typing import Protocol


class Part(StrEnum):
    morning = "morning"
    afternoon = "afternoon"
    evening = "evening"


# The hours (clinic time, [from, to)) of each part of the day.
PART_HOURS = {Part.morning: (0, 12), Part.afternoon: (12, 16), Part.evening: (16, 24)}


class Answer(StrEnum):
    yes = "yes"
    no = "no"


@dataclass(frozen=True)
class Named:
    """A specialty or a doctor the clinic has, with the names a patient may use."""

    id: uuid.UUID
    names: tuple[str, ...]


@dataclass(frozen=True)
class Wish:
    first_day: date | None = None
    last_day: date | None = None
    part: Part | None = None
    specialty_ids: tuple[uuid.UUID, ...] = ()
    doctor_ids: tuple[uuid.UUID, ...] = ()
    choice: int | None = None
    answer: Answer | None = None

    @property
    def asks_for_times(self) -> bool:
        """Whether the message says anything about when or with whom."""
        return bool(self.first_day or self.part or self.specialty_ids or self.doctor_ids)


WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6, "jumatatu": 0, "jumanne": 1, "jumatano": 2, "alhamisi": 3, "ijumaa": 4,
    "jumamosi": 5, "jumapili": 6,
}  # fmt: skip
MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "januari": 1, "februari": 2, "machi": 3, "aprili": 4, "mei": 5, "juni": 6, "julai": 7,
    "agosti": 8, "septemba": 9, "oktoba": 10, "novemba": 11, "desemba": 12,
}  # fmt: skip
PARTS = {
    "morning": Part.morning, "mornings": Part.morning, "asubuhi": Part.morning,
    "afternoon": Part.afternoon, "afternoons": Part.afternoon,
    "mchana": Part.afternoon, "midday": Part.afternoon, "noon": Part.afternoon,
    "evening": Part.evening, "evenings": Part.evening, "jioni": Part.evening,
    "usiku": Part.evening, "night": Part.evening,
}  # fmt: skip
RELATIVE = {"today": 0, "leo": 0, "tomorrow": 1, "kesho": 1, "keshokutwa": 2}
# Common words for a specialty, by a word of its English name in the clinic's list.
SPECIALTY_WORDS = {
    "skin": "dermatolog", "ngozi": "dermatolog", "rash": "dermatolog",
    "children": "ediatric", "child": "ediatric", "kids": "ediatric", "baby": "ediatric",
    "watoto": "ediatric", "mtoto": "ediatric", "paediatrician": "ediatric",
    "pediatrician": "ediatric", "heart": "cardio", "moyo": "cardio", "eye": "ophthalm",
    "eyes": "ophthalm", "macho": "ophthalm", "jicho": "ophthalm", "teeth": "dent",
    "tooth": "dent", "meno": "dent", "jino": "dent", "dentist": "dent", "women": "gyn",
    "wanawake": "gyn", "pregnancy": "obstet", "mimba": "obstet", "general": "general",
    "jumla": "general", "family": "general", "gp": "general",
}  # fmt: skip
YES = {"yes", "ndiyo", "ndio", "sawa", "ok", "okay", "confirm", "thibitisha", "yep"}
NO = {"no", "hapana", "sitaki", "cancel", "ghairi", "nope", "acha"}
ORDINALS = {
    "first": 1, "second": 2, "third": 3, "kwanza": 1, "pili": 2, "tatu": 3,
    "1": 1, "2": 2, "3": 3, "one": 1, "two": 2, "three": 3, "moja": 1, "mbili": 2,
}  # fmt: skip
TITLES = {"dr", "doctor", "daktari", "dokta", "dkt"}
NEXT = {"next", "ijayo", "ujao", "ijao"}
THIS = {"this", "hii", "huu"}
WEEK = {"week", "wiki"}
WEEKEND = {"weekend", "wikendi"}
VOCABULARY = sorted(
    {*WEEKDAYS, *MONTHS, *PARTS, *RELATIVE, *SPECIALTY_WORDS, *YES, *NO, *ORDINALS}
    | {"week", "weekend", "baada", "siku", "tarehe"} - {"ok", "gp", "no", "yes", "may", "mei"}
)
WORD = re.compile(r"[^\W_]+|\d+", re.UNICODE)


def _closest(word: str, known: Sequence[str]) -> str | None:
    """The known word a word stands for: itself, or (from four letters) a near spelling."""
    if word in known:
        return word
    if len(word) < 4:
        return None
    found = get_close_matches(word, known, n=1, cutoff=0.8)
    return found[0] if found else None


def words_of(text: str) -> list[str]:
    """The message's words, lower-case, each misspelling of a known word corrected ("3rd"
    becomes "3", "rd")."""
    spaced = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1 \2", text.lower())
    return [_closest(word, VOCABULARY) or word for word in WORD.findall(spaced)]


def _next_weekday(today: date, weekday: int) -> date:
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def _next_date(today: date, day: int, month: int | None) -> date | None:
    """The next `day` (of `month`, or of any month) from today on."""
    for step in range(0, 13):
        year, month_index = divmod(today.month - 1 + step, 12)
        candidate_month = month_index + 1
        if month is not None and candidate_month != month:
            continue
        try:
            candidate = date(today.year + year, candidate_month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def _days(words: list[str], today: date) -> tuple[date, date] | None:
    """The days a message asks for, or None when it names none."""
    joined = " ".join(words)
    if re.search(r"\bday after (?:tomorrow|kesho)\b|\bkesho kutwa\b", joined):
        return today + timedelta(days=2), today + timedelta(days=2)
    if found := re.search(r"\b(?:in|baada ya siku) (\d{1,2})(?: days?)?\b", joined):
        day = today + timedelta(days=int(found[1]))
        return day, day
    for index, word in enumerate(words):
        before = words[index - 1] if index else ""
        earlier = words[index - 2] if index > 1 else ""
        after = words[index + 1] if index + 1 < len(words) else ""
        if word in RELATIVE:
            day = today + timedelta(days=RELATIVE[word])
            return day, day
        if word in WEEKDAYS:
            day = _next_weekday(today, WEEKDAYS[word])
            this_week_ends = today + timedelta(days=6 - today.weekday())
            if (before in NEXT or after in NEXT) and day <= this_week_ends:
                day += timedelta(days=7)
            return day, day
        if word in WEEKEND or (word in WEEK and {before, earlier} & {"mwisho", "end"}):
            saturday = _next_weekday(today, 5) if today.weekday() != 5 else today
            if today.weekday() == 6:
                return today, today
            return saturday, saturday + timedelta(days=1)
        if word in WEEK:
            monday = today - timedelta(days=today.weekday())
            if before in NEXT or after in NEXT:
                return monday + timedelta(days=7), monday + timedelta(days=13)
            if before in THIS or after in THIS:
                return today, monday + timedelta(days=6)
    for index, word in enumerate(words):
        if not word.isdecimal() or not 1 <= int(word) <= 31:
            continue
        around = words[max(0, index - 2) : index + 3]
        month = next((MONTHS[w] for w in around if w in MONTHS), None)
        dated = (
            month is not None
            or "tarehe" in around
            or any(w in {"st", "nd", "rd", "th", "the", "on"} for w in around)
        )
        found_day = _next_date(today, int(word), month) if dated else None
        if found_day is not None:
            return found_day, found_day
    return None


def _named(words: list[str], choices: Sequence[Named]) -> tuple[uuid.UUID, ...]:
    """The choices any of whose names (a word each, or the whole name) the words say."""
    found: list[uuid.UUID] = []
    for choice in choices:
        names = [name.lower() for name in choice.names]
        parts = sorted({p for name in names for p in WORD.findall(name) if len(p) > 2} - TITLES)
        said = [w for w in words if w not in TITLES and len(w) > 2]
        if any(_closest(word, parts) for word in said) and choice.id not in found:
            found.append(choice.id)
    return tuple(found)


def _specialties(words: list[str], specialties: Sequence[Named]) -> tuple[uuid.UUID, ...]:
    """Specialties named outright, or by a common word for them ("skin", "watoto")."""
    stems = [SPECIALTY_WORDS[w] for w in words if w in SPECIALTY_WORDS]
    found = [
        s.id for s in specialties if any(stem in name.lower() for stem in stems for name in s.names)
    ]
    return tuple(dict.fromkeys([*found, *_named(words, specialties)]))


def understand(
    text: str, *, today: date, specialties: Sequence[Named], doctors: Sequence[Named]
) -> Wish:
    """What the message asks for (see the module's rules)."""
    words = words_of(text)
    days = _days(words, today)
    part = next((PARTS[w] for w in words if w in PARTS), None)
    answer = (
        Answer.yes
        if any(w in YES for w in words)
        else Answer.no
        if any(w in NO for w in words)
        else None
    )
    # "the 3rd", "in 2 days", "tarehe 2" name a day, not the second offer.
    choice = None if days else next((ORDINALS[w] for w in words if w in ORDINALS), None)
    return Wish(
        first_day=days[0] if days else None,
        last_day=days[1] if days else None,
        part=part,
        specialty_ids=_specialties(words, specialties),
        doctor_ids=_named(words, doctors),
        choice=choice,
        answer=answer,
    )


class Reader(Protocol):
    """What reads a booking message: the rules here (`RulesReader`, the default), or Gemini
    function calling over the same filters (`booking/gemini_reader.py`, with a key)."""

    async def read(
        self, text: str, *, today: date, specialties: Sequence[Named], doctors: Sequence[Named]
    ) -> Wish: ...


class RulesReader:
    async def read(
        self, text: str, *, today: date, specialties: Sequence[Named], doctors: Sequence[Named]
    ) -> Wish:
        return understand(text, today=today, specialties=specialties, doctors=doctors)


def named_in(text: str, choices: Sequence[Named]) -> tuple[uuid.UUID, ...]:
    """The doctors a name given in full (by a model's function call) stands for."""
    return _named(words_of(text), choices)


def specialties_in(text: str, specialties: Sequence[Named]) -> tuple[uuid.UUID, ...]:
    """The specialties a name given in full (by a model's function call) stands for."""
    return _specialties(words_of(text), specialties)
