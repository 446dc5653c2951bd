"""The offline provider: retrieval over one consultation's memory and transcript, quoting
what it found with its time, and saying plainly when nothing is relevant."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from clinicflow.assistant.offline import OfflineProvider, rank, terms
from clinicflow.assistant.requests import Command, Quote, Request

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FILLER = (
    "patient reports mild headache in the evening",
    "blood pressure normal at rest",
    "no fever since yesterday",
    "sleeps poorly, wakes at night",
    "appetite reduced for a week",
    "walks daily for thirty minutes",
    "drinks two cups of coffee",
    "occasional dizziness when standing",
)


def memory_items(count: int) -> list[Quote]:
    shuffle = random.Random(7)
    return [
        Quote(
            source="memory",
            id=str(index),
            at=START + timedelta(minutes=index),
            who="",
            text=f"{shuffle.choice(FILLER)} (note {index})",
        )
        for index in range(count)
    ]


def request(command: Command, topic: str, memory: list[Quote]) -> Request:
    return Request(
        command=command,
        question=topic,
        topic=topic,
        memory=memory,
        transcript=[],
        patient_name="Amina",
        problem="Headache",
        asker="doctor",
    )


async def answer(req: Request) -> str:
    return "".join([piece async for piece in OfflineProvider().answer(req)])


async def test_the_right_item_is_found_among_200() -> None:
    items = memory_items(200)
    needle = Quote(
        source="memory",
        id="needle",
        at=START + timedelta(hours=5, minutes=42),
        who="",
        text="Allergic to penicillin: rash and swelling in 2019",
    )
    items.insert(137, needle)
    text = await answer(request(Command.recall, "penicillin allergy", items))
    lines = text.strip().splitlines()
    assert lines[0] == 'Here is what this consultation holds about "penicillin allergy":'
    assert lines[1] == '- 14:42 (remembered): "Allergic to penicillin: rash and swelling in 2019"'


async def test_it_says_so_when_nothing_was_mentioned() -> None:
    text = await answer(request(Command.recall, "chemotherapy", memory_items(200)))
    assert text.strip() == 'I have nothing about "chemotherapy" in this consultation.'


async def test_a_summary_quotes_memory_and_the_latest_messages_with_times() -> None:
    req = Request(
        command=Command.summary,
        question="summary",
        topic="",
        memory=memory_items(1),
        transcript=[
            Quote("message", "m1", START, "Amina", "It hurts behind my eyes", seq=3),
        ],
        patient_name="Amina",
        problem="Headache",
        asker="doctor",
    )
    text = await answer(req)
    assert "Problem: Headache" in text
    assert '- 09:00 (Amina): "It hurts behind my eyes"' in text


async def test_a_summary_is_in_the_readers_language_and_the_clinics_time_zone() -> None:
    req = Request(
        command=Command.summary,
        question="summary",
        topic="",
        memory=memory_items(1),
        transcript=[Quote("message", "m1", START, "Amina", "Kichwa kinauma", seq=3)],
        patient_name="Amina",
        problem="Headache",
        asker="patient",
        language="sw",
        zone="Africa/Nairobi",
    )
    text = await answer(req)
    assert "Muhtasari hadi sasa. Tatizo: Headache" in text
    assert "(imekumbukwa)" in text
    # 09:00 UTC is noon in Nairobi, written 24-hour.
    assert '- 12:00 (Amina): "Kichwa kinauma"' in text
    nothing = await answer(
        Request(Command.recall, "x", "saratani", [], [], "Amina", "", "patient", "sw", "UTC")
    )
    assert "saratani" in nothing
    assert "I have nothing" not in nothing


def test_endings_and_case_do_not_hide_a_match() -> None:
    assert terms("Coughing COUGHS coughed") == ["cough", "cough", "cough"]


@given(
    texts=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=30),
    query=st.text(min_size=1, max_size=20),
)
def test_every_ranked_quote_shares_a_term_with_the_query(texts: list[str], query: str) -> None:
    quotes = [Quote("memory", str(i), START, "", t) for i, t in enumerate(texts)]
    found = rank(query, quotes)
    wanted = set(terms(query))
    assert all(wanted & set(terms(quote.text)) for quote in found)
    missed = [q for q in quotes if q not in found and wanted & set(terms(q.text))]
    assert missed == []
