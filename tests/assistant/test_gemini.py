"""The Gemini provider through the real google-genai SDK, pointed at a stand-in server on
127.0.0.1 that speaks the API's streaming format (`:streamGenerateContent?alt=sse`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from clinicflow.assistant.gemini import SYSTEM_PROMPT
from clinicflow.config import Settings
from clinicflow.runtime import Runtime
from tests.assistant.conftest import Chat
from tests.assistant.test_language import prefer
from tests.realtime.conftest import Server, serving

pytestmark = pytest.mark.usefixtures("app")

MODEL = "gemini-test-model"


@dataclass
class StandIn:
    """What the stand-in answers next, and every request it received."""

    pieces: list[str] = field(
        default_factory=lambda: ["The patient ", "reports a cough ", "at night."]
    )
    delay: float = 0.05
    status: int = 200
    hang: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def endpoint(self, request: Request) -> Response:
        self.received.append(
            {
                "path": request.url.path,
                "query": dict(request.query_params),
                "key": request.headers.get("x-goog-api-key"),
                "body": await request.json(),
            }
        )
        if self.status != 200:
            return JSONResponse(
                {"error": {"code": self.status, "message": "boom", "status": "INTERNAL"}},
                status_code=self.status,
            )
        return StreamingResponse(self._events(), media_type="text/event-stream")

    async def _events(self) -> AsyncIterator[bytes]:
        if self.hang:
            # Held until the test ends, long past the assistant's timeout.
            await asyncio.wait_for(self.released.wait(), timeout=30)
        for index, piece in enumerate(self.pieces):
            chunk = {
                "candidates": [
                    {
                        "content": {"parts": [{"text": piece}], "role": "model"},
                        "index": 0,
                        **({"finishReason": "STOP"} if index == len(self.pieces) - 1 else {}),
                    }
                ],
                "modelVersion": MODEL,
            }
            yield f"data: {json.dumps(chunk)}\r\n\r\n".encode()
            await asyncio.sleep(self.delay)


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    stand_in = StandIn()
    app = Starlette(
        routes=[Route("/v1beta/models/{rest:path}", stand_in.endpoint, methods=["POST"])]
    )
    async with serving(app) as server:  # type: ignore[arg-type]
        stand_in.url = Server(port=server.port).http_url
        yield stand_in
        stand_in.released.set()


@pytest.fixture
def settings(settings: Settings, standin: StandIn) -> Settings:
    return settings.model_copy(
        update={
            "gemini_api_key": "test-key",
            "gemini_model": MODEL,
            "gemini_base_url": standin.url,
            "assistant_timeout_seconds": 1.0,
        }
    )


async def test_the_request_carries_the_prompt_memory_and_transcript_and_streams_back(
    chat: Chat, standin: StandIn
) -> None:
    await chat.ask(chat.doctor, "@b remember smoker, 20 a day")
    await chat.say(chat.patient, "I cough every night")
    assert standin.received == []  # remembering needs no model
    seq = await chat.say(chat.doctor, "@b summary")
    answer = await chat.outcome(seq)

    [request] = standin.received
    assert request["path"] == f"/v1beta/models/{MODEL}:streamGenerateContent"
    assert request["query"] == {"alt": "sse"}
    assert request["key"] == "test-key"
    body = request["body"]
    assert body["systemInstruction"]["parts"][0]["text"] == SYSTEM_PROMPT
    assert "You do not diagnose" in SYSTEM_PROMPT
    asked = body["contents"][0]["parts"][0]["text"]
    assert "Summarise the consultation" in asked
    assert "smoker, 20 a day" in asked
    assert "I cough every night" in asked
    assert "@b" not in asked

    deltas = [e.data["text"] for e in chat.stream(seq) if e.type == "assistant.delta"]
    assert deltas == standin.pieces
    assert answer["kind"] == "assistant"
    assert answer["body"] == "The patient reports a cough at night."


async def test_a_patients_question_sends_no_memory(chat: Chat, standin: StandIn) -> None:
    await chat.ask(chat.doctor, "@b remember query early glaucoma")
    await chat.ask(chat.patient, "@b summary")
    asked = standin.received[-1]["body"]["contents"][0]["parts"][0]["text"]
    assert "glaucoma" not in asked
    assert "Asked by: the patient" in asked


async def test_gemini_is_asked_for_the_readers_language_and_clock(
    chat: Chat, standin: StandIn, runtime: Runtime
) -> None:
    await prefer(runtime, chat.patient, "sw")
    await chat.ask(chat.patient, "@b summary")
    asked = standin.received[-1]["body"]["contents"][0]["parts"][0]["text"]
    assert (
        "Answer in Swahili (Kiswahili); times are on the clinic's clock (Africa/Nairobi)" in asked
    )
    assert "UTC" not in asked
    await chat.ask(chat.doctor, "@b summary")
    asked = standin.received[-1]["body"]["contents"][0]["parts"][0]["text"]
    assert "Answer in English;" in asked


async def test_a_timeout_becomes_a_system_message(chat: Chat, standin: StandIn) -> None:
    standin.hang = True
    outcome = await chat.ask(chat.doctor, "@b summary")
    assert (outcome["kind"], outcome["body"]) == ("system", "assistant_timeout")


async def test_an_error_becomes_a_system_message(chat: Chat, standin: StandIn) -> None:
    standin.status = 500
    outcome = await chat.ask(chat.doctor, "@b what did I say about sleep")
    assert (outcome["kind"], outcome["body"]) == ("system", "assistant_failed")


async def test_cancelling_mid_stream_stops_the_answer(chat: Chat, standin: StandIn) -> None:
    standin.pieces = [f"piece {n} " for n in range(20)]
    standin.delay = 0.2
    seq = await chat.say(chat.doctor, "@b summary")
    await chat.events.wait_for(
        lambda e: e.type == "assistant.delta" and e.data["question_seq"] == seq
    )
    cancelled = await chat.clinic.client.post(
        f"/api/consultations/{chat.id}/assistant/cancel",
        json={"question_seq": seq},
        headers=chat.doctor.headers,
    )
    assert cancelled.status_code == 200, cancelled.text
    outcome = await chat.outcome(seq)
    assert (outcome["kind"], outcome["body"]) == ("system", "assistant_cancelled")
    deltas = [e for e in chat.stream(seq) if e.type == "assistant.delta"]
    assert len(deltas) < len(standin.pieces)
    assert not [
        e
        for e in chat.events.of_type("message.created")
        if e.data["client_id"] == f"assistant:{seq}" and e.data["kind"] == "assistant"
    ]


GEMINI_DRAFT = {
    "medications": [
        {
            "name": "Amoxicillin",
            "strength": "500 mg",
            "dosage": "1 capsule",
            "route": "by mouth",
            "frequency": "three times a day",
            "duration": "7 days",
            "quantity": "21",
            "instructions": "",
        }
    ],
    "lifestyle_advice": "Rest",
    "dietary_instructions": "",
    "warning_signs": "Rash or swelling of the face",
}


async def stored_draft(chat: Chat) -> dict[str, Any]:
    seq = await chat.say(chat.doctor, "@b draft prescription")
    outcome = await chat.outcome(seq)
    assert (outcome["kind"], outcome["body"]) == ("system", "assistant_draft_ready")
    response = await chat.clinic.client.get(
        f"/api/consultations/{chat.id}/assistant/draft", headers=chat.doctor.headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("fenced", [False, True])
async def test_a_draft_asks_for_json_and_keeps_what_records_accepts(
    chat: Chat, standin: StandIn, fenced: bool
) -> None:
    await chat.ask(chat.doctor, "@b remember Amoxicillin 500 mg three times a day for 7 days")
    answer = json.dumps(GEMINI_DRAFT)
    if fenced:
        answer = f"```json\n{answer}\n```"
    standin.pieces = [answer[:40], answer[40:90], answer[90:]]
    drafted = await stored_draft(chat)

    body = standin.received[-1]["body"]
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    asked = body["contents"][0]["parts"][0]["text"]
    assert "Answer with JSON only" in asked
    assert '"medications": [{"name": ""' in asked
    assert "Amoxicillin 500 mg three times a day" in asked
    assert {key: drafted[key] for key in GEMINI_DRAFT} == GEMINI_DRAFT


@pytest.mark.parametrize(
    "answer",
    [
        "Amoxicillin 500 mg, three times a day, for a week.",
        json.dumps({"medications": []}),
        json.dumps({"medications": [{"name": "X", "colour": "red"}]}),
    ],
)
async def test_a_draft_records_refuses_falls_back_to_the_text(
    chat: Chat, standin: StandIn, answer: str
) -> None:
    standin.pieces = [answer]
    drafted = await stored_draft(chat)
    assert drafted["medications"] == [
        {
            "name": "",
            "strength": "",
            "dosage": "",
            "route": "",
            "frequency": "",
            "duration": "",
            "quantity": "",
            "instructions": answer,
        }
    ]
