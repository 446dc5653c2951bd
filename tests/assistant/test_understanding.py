"""Offline understanding of booking requests: a table of English and Swahili requests, with
days relative to a frozen date (a Friday at the end of November, a Monday that is the
month's last day, a Saturday, New Year's Eve), parts of the day, specialties, doctors and
misspellings, and the filters each must produce."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinicflow.assistant.booking.understanding import Answer, Named, Part, understand

FRI = date(2026, 11, 27)  # Friday; Monday 30 November ends the month
MON = date(2026, 11, 30)  # Monday, the month's last day
SAT = date(2026, 12, 26)  # Saturday
NYE = date(2026, 12, 31)  # Thursday, the year's last day

SKIN = uuid.UUID(int=1)
CHILDREN = uuid.UUID(int=2)
GENERAL = uuid.UUID(int=3)
HEART = uuid.UUID(int=4)
OTIENO = uuid.UUID(int=10)
WANJIKU = uuid.UUID(int=11)

SPECIALTIES = [
    Named(SKIN, ("Dermatology", "Magonjwa ya ngozi")),
    Named(CHILDREN, ("Paediatrics", "Magonjwa ya watoto")),
    Named(GENERAL, ("General practice", "Tiba ya jumla")),
    Named(HEART, ("Cardiology", "Magonjwa ya moyo")),
]
DOCTORS = [Named(OTIENO, ("Dr Brian Otieno",)), Named(WANJIKU, ("Dr Grace Wanjiku",))]


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


# (today, request, the filters it must produce: days, part, specialties, doctors, choice, answer)
TABLE: list[tuple[date, str, dict[str, Any]]] = [
    # Relative days, English and Swahili.
    (FRI, "today please", {"days": (FRI, FRI)}),
    (FRI, "Naomba leo", {"days": (FRI, FRI)}),
    (FRI, "tomorrow", {"days": (d(11, 28), d(11, 28))}),
    (FRI, "kesho", {"days": (d(11, 28), d(11, 28))}),
    (FRI, "keshokutwa", {"days": (d(11, 29), d(11, 29))}),
    (FRI, "kesho kutwa asubuhi", {"days": (d(11, 29), d(11, 29)), "part": Part.morning}),
    (FRI, "the day after tomorrow", {"days": (d(11, 29), d(11, 29))}),
    (MON, "tomorrow", {"days": (d(12, 1), d(12, 1))}),
    (MON, "kesho", {"days": (d(12, 1), d(12, 1))}),
    (NYE, "tomorrow morning", {"days": (d(1, 1, 2027), d(1, 1, 2027)), "part": Part.morning}),
    (FRI, "in 3 days", {"days": (d(11, 30), d(11, 30))}),
    (FRI, "baada ya siku 5", {"days": (d(12, 2), d(12, 2))}),
    # Weekdays: the next one; "next" is the coming week's.
    (FRI, "Tuesday", {"days": (d(12, 1), d(12, 1))}),
    (FRI, "next Tuesday", {"days": (d(12, 1), d(12, 1))}),
    (MON, "Tuesday", {"days": (d(12, 1), d(12, 1))}),
    (MON, "next Tuesday", {"days": (d(12, 8), d(12, 8))}),
    (MON, "jumanne ijayo", {"days": (d(12, 8), d(12, 8))}),
    (FRI, "jumatatu ijayo", {"days": (d(11, 30), d(11, 30))}),
    (FRI, "on Friday", {"days": (d(12, 4), d(12, 4))}),
    (FRI, "ijumaa", {"days": (d(12, 4), d(12, 4))}),
    (FRI, "alhamisi mchana", {"days": (d(12, 3), d(12, 3)), "part": Part.afternoon}),
    (SAT, "jumapili", {"days": (d(12, 27), d(12, 27))}),
    (SAT, "Monday morning", {"days": (d(12, 28), d(12, 28)), "part": Part.morning}),
    (NYE, "jumamosi", {"days": (d(1, 2, 2027), d(1, 2, 2027))}),
    # Weeks and weekends.
    (FRI, "next week", {"days": (d(11, 30), d(12, 6))}),
    (FRI, "wiki ijayo", {"days": (d(11, 30), d(12, 6))}),
    (FRI, "wiki ujao", {"days": (d(11, 30), d(12, 6))}),
    (MON, "this week", {"days": (MON, d(12, 6))}),
    (MON, "wiki hii", {"days": (MON, d(12, 6))}),
    (FRI, "this weekend", {"days": (d(11, 28), d(11, 29))}),
    (FRI, "wikendi", {"days": (d(11, 28), d(11, 29))}),
    (FRI, "mwisho wa wiki", {"days": (d(11, 28), d(11, 29))}),
    (SAT, "the weekend", {"days": (SAT, d(12, 27))}),
    # Dates across a month and a year end.
    (FRI, "on the 3rd", {"days": (d(12, 3), d(12, 3))}),
    (FRI, "tarehe 28", {"days": (d(11, 28), d(11, 28))}),
    (FRI, "tarehe 2", {"days": (d(12, 2), d(12, 2))}),
    (FRI, "3 December", {"days": (d(12, 3), d(12, 3))}),
    (FRI, "desemba 3", {"days": (d(12, 3), d(12, 3))}),
    (NYE, "5 januari", {"days": (d(1, 5, 2027), d(1, 5, 2027))}),
    (MON, "on the 31st", {"days": (d(12, 31), d(12, 31))}),
    # Parts of the day.
    (FRI, "mornings", {"part": Part.morning}),
    (FRI, "asubuhi", {"part": Part.morning}),
    (FRI, "in the afternoon", {"part": Part.afternoon}),
    (FRI, "jioni", {"part": Part.evening}),
    (FRI, "usiku wa leo", {"days": (FRI, FRI), "part": Part.evening}),
    # Specialties, by name or a common word, in both languages.
    (FRI, "I need a skin doctor next week, mornings", {
        "days": (d(11, 30), d(12, 6)), "part": Part.morning, "specialties": (SKIN,)}),
    (FRI, "Nahitaji daktari wa watoto kesho mchana", {
        "days": (d(11, 28), d(11, 28)), "part": Part.afternoon, "specialties": (CHILDREN,)}),
    (FRI, "dermatology", {"specialties": (SKIN,)}),
    (FRI, "daktari wa ngozi", {"specialties": (SKIN,)}),
    (FRI, "my child has a fever", {"specialties": (CHILDREN,)}),
    (FRI, "heart doctor", {"specialties": (HEART,)}),
    (FRI, "daktari wa moyo jumatano", {"specialties": (HEART,), "days": (d(12, 2), d(12, 2))}),
    (FRI, "a general doctor", {"specialties": (GENERAL,)}),
    (FRI, "tiba ya jumla", {"specialties": (GENERAL,)}),
    # Doctors by name.
    (FRI, "Dr Otieno tomorrow", {"doctors": (OTIENO,), "days": (d(11, 28), d(11, 28))}),
    (FRI, "daktari Wanjiku", {"doctors": (WANJIKU,)}),
    (FRI, "Grace please", {"doctors": (WANJIKU,)}),
    # Misspellings.
    (FRI, "tommorow", {"days": (d(11, 28), d(11, 28))}),
    (FRI, "tomorow afternon", {"days": (d(11, 28), d(11, 28)), "part": Part.afternoon}),
    (FRI, "asubui", {"part": Part.morning}),
    (FRI, "dermatolgy", {"specialties": (SKIN,)}),
    (FRI, "jumatno", {"days": (d(12, 2), d(12, 2))}),
    (FRI, "keshokuta", {"days": (d(11, 29), d(11, 29))}),
    (FRI, "wednesdy mornig", {"days": (d(12, 2), d(12, 2)), "part": Part.morning}),
    (FRI, "Dr Otyeno", {"doctors": (OTIENO,)}),
    (FRI, "childen doctor", {"specialties": (CHILDREN,)}),
    # Answers to an offer.
    (FRI, "2", {"choice": 2}),
    (FRI, "the first one", {"choice": 1}),
    (FRI, "ya pili", {"choice": 2}),
    (FRI, "yes", {"answer": Answer.yes}),
    (FRI, "Ndiyo", {"answer": Answer.yes}),
    (FRI, "sawa", {"answer": Answer.yes}),
    (FRI, "no thanks", {"answer": Answer.no}),
    (FRI, "hapana", {"answer": Answer.no}),
    # Nothing about when or whom.
    (FRI, "hello", {}),
    (FRI, "I am not sure", {}),
]  # fmt: skip


def test_the_table_has_at_least_sixty_rows() -> None:
    assert len(TABLE) >= 60


@pytest.mark.parametrize(("today", "text", "expected"), TABLE, ids=[row[1] for row in TABLE])
def test_a_request_gives_its_filters(today: date, text: str, expected: dict[str, Any]) -> None:
    wish = understand(text, today=today, specialties=SPECIALTIES, doctors=DOCTORS)
    days = (wish.first_day, wish.last_day) if wish.first_day else None
    assert days == expected.get("days")
    assert wish.part == expected.get("part")
    assert wish.specialty_ids == expected.get("specialties", ())
    assert wish.doctor_ids == expected.get("doctors", ())
    assert wish.choice == expected.get("choice")
    assert wish.answer == expected.get("answer")


@given(text=st.text(max_size=200), offset=st.integers(min_value=0, max_value=3650))
def test_any_text_is_understood_without_error_and_never_in_the_past(text: str, offset: int) -> None:
    today = date(2026, 1, 1).fromordinal(date(2026, 1, 1).toordinal() + offset)
    wish = understand(text, today=today, specialties=SPECIALTIES, doctors=DOCTORS)
    if wish.first_day is not None:
        assert wish.last_day is not None
        assert today <= wish.first_day <= wish.last_day
