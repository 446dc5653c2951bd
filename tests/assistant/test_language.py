"""The assistant answers in its reader's language, on the clinic's clock: the patient's
chosen language for their (public) questions, the clinic's for the doctor's private ones
(staff read in the clinic's language, as their notifications do), whatever language the
request that carried the question was in and whichever process answers. Gemini is asked
for that language too (tests/assistant/test_gemini.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from clinicflow.identity import service as identity
from clinicflow.runtime import Runtime
from tests.assistant.conftest import Chat
from tests.consultations.clinic import Person


async def prefer(runtime: Runtime, person: Person, language: str) -> None:
    """The patient chooses their language (as the contact page does)."""
    async with runtime.transaction() as tx:
        (user,) = await identity.users(tx, [person.id])
        await identity.set_preferred_language(session=tx, user=user, language=language)


async def say_in(chat: Chat, person: Person, body: str, page_language: str) -> int:
    """Send from a page in `page_language`: the request's language, not the reader's."""
    response = await chat.clinic.client.post(
        f"/api/consultations/{chat.id}/messages",
        json={"client_id": uuid.uuid4().hex, "body": body},
        headers={**person.headers, "Accept-Language": page_language},
        cookies={"lang": page_language},
    )
    assert response.status_code == 201, response.text
    seq: int = response.json()["seq"]
    return seq


async def test_each_reader_gets_their_language_and_the_clinics_clock(
    chat: Chat, runtime: Runtime
) -> None:
    await prefer(runtime, chat.patient, "sw")
    said = await say_in(chat, chat.patient, "Kichwa kinauma tangu jana", "en")

    # The patient's question, sent from an English page, is answered in their Swahili.
    answer = await chat.outcome(await say_in(chat, chat.patient, "@b summary", "en"))
    assert answer["body"].startswith("Muhtasari hadi sasa.")
    assert "Summary" not in answer["body"]
    history = await chat.clinic.client.get(
        f"/api/consultations/{chat.id}/messages", headers=chat.patient.headers
    )
    (message,) = [m for m in history.json()["items"] if m["seq"] == said]
    local = datetime.fromisoformat(message["created_at"]).astimezone(ZoneInfo("Africa/Nairobi"))
    assert f"- {local:%H:%M} (" in answer["body"]
    assert "UTC" not in answer["body"]

    # The doctor's private ones, sent from a Swahili page, are in the clinic's English.
    remembered = await chat.outcome(
        await say_in(chat, chat.doctor, "@b remember tension headache", "sw")
    )
    assert remembered["body"] == 'Remembered: "tension headache"'
    summary = await chat.outcome(await say_in(chat, chat.doctor, "@b summary", "sw"))
    assert summary["body"].startswith("Summary so far.")
    assert "(remembered)" in summary["body"]
