"""Booking by conversation with `GEMINI_API_KEY`: the real SDK talks to a stand-in on
127.0.0.1 that speaks Gemini's function-calling protocol (`:generateContent`, answering a
`functionCall`), and the same conversation runs through the same scheduling verbs: offer,
hold, confirm. The request carries the four functions, the clinic's date and directory; a
stand-in that fails leaves the rules to read the message."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clinicflow.assistant.booking.gemini_reader import wish_of
from clinicflow.assistant.booking.understanding import Answer, Named
from clinicflow.config import Settings
from clinicflow.core.clock import FrozenClock
from clinicflow.runtime import Runtime
from tests.assistant.booking_clinic import Desk, make_desk
from tests.factories import Accounts
from tests.realtime.conftest import Server, serving

MODEL = "gemini-booking-test"


@dataclass
class StandIn:
    """Answers each message with the function call scripted for its text."""

    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def endpoint(self, request: Request) -> Response:
        body = await request.json()
        self.received.append({"path": request.url.path, "body": body})
        if self.status != 200:
            return JSONResponse(
                {"error": {"code": self.status, "message": "boom", "status": "INTERNAL"}},
                status_code=self.status,
            )
        text = body["contents"][-1]["parts"][0]["text"]
        call = self.calls[text]
        return JSONResponse(
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"functionCall": call}]},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "modelVersion": MODEL,
            }
        )


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    stand_in = StandIn()
    app = Starlette(
        routes=[Route("/v1beta/models/{rest:path}", stand_in.endpoint, methods=["POST"])]
    )
    async with serving(app) as server:  # type: ignore[arg-type]
        stand_in.url = Server(port=server.port).http_url
        yield stand_in


@pytest.fixture
def settings(settings: Settings, standin: StandIn) -> Settings:
    return settings.model_copy(
        update={
            "gemini_api_key": "test-key",
            "gemini_model": MODEL,
            "gemini_base_url": standin.url,
            "assistant_timeout_seconds": 2.0,
        }
    )


@pytest.fixture
async def desk(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> Desk:
    return await make_desk(client, accounts, runtime)


async def test_gemini_function_calls_drive_the_same_conversation(
    desk: Desk, standin: StandIn
) -> None:
    standin.calls = {
        "Ningependa kuonana na daktari wa ngozi kesho kabla ya saa sita": {
            "name": "find_times",
            "args": {
                "first_day": "2026-03-03",
                "last_day": "2026-03-03",
                "part_of_day": "morning",
                "specialty": "Dermatology",
            },
        },
        "the second one please": {"name": "choose_offer", "args": {"number": 2}},
        "go ahead": {"name": "answer", "args": {"reply": "yes"}},
    }
    _patient, headers = await desk.clinic.patient()
    conversation = await desk.start(headers)
    turn = await desk.say(
        headers, conversation, "Ningependa kuonana na daktari wa ngozi kesho kabla ya saa sita"
    )
    assert [o["starts_at"] for o in turn["offers"]] == [
        "2026-03-03T05:00:00Z",
        "2026-03-03T05:15:00Z",
        "2026-03-03T05:30:00Z",
    ]
    assert {o["doctor_name"] for o in turn["offers"]} == {"Dr Zawadi Mwangi"}
    request = standin.received[0]
    assert request["path"] == f"/v1beta/models/{MODEL}:generateContent"
    body = request["body"]
    names = [f["name"] for f in body["tools"][0]["functionDeclarations"]]
    assert names == ["find_times", "choose_offer", "answer", "ask_again"]
    system = body["systemInstruction"]["parts"][0]["text"]
    assert "Today in the clinic is 2026-03-02 (Monday)" in system
    assert "Dermatology / Magonjwa ya ngozi" in system
    assert "Dr Zawadi Mwangi" in system
    assert body["toolConfig"]["functionCallingConfig"]["mode"] == "ANY"

    held = await desk.say(headers, conversation, "the second one please")
    assert held["hold"]["expires_at"] == "2026-03-02T09:05:00Z"
    booked = await desk.say(headers, conversation, "go ahead")
    assert booked["appointment"]["starts_at"] == "2026-03-03T05:15:00Z"


async def test_a_failing_model_leaves_the_rules_to_read(desk: Desk, standin: StandIn) -> None:
    standin.status = 500
    _patient, headers = await desk.clinic.patient()
    conversation = await desk.start(headers)
    turn = await desk.say(headers, conversation, "skin doctor tomorrow morning")
    assert len(standin.received) == 1
    assert turn["offers"][0]["starts_at"] == "2026-03-03T05:00:00Z"


def test_a_function_call_is_checked_before_it_is_used() -> None:
    today = date(2026, 3, 2)
    skin = Named(uuid.UUID(int=1), ("Dermatology",))
    found = wish_of(
        "find_times",
        {"first_day": "2020-01-01", "last_day": "nonsense", "part_of_day": "dawn",
         "specialty": "dermatology", "doctor": "nobody"},
        today=today, specialties=[skin], doctors=[],
    )  # fmt: skip
    assert (found.first_day, found.last_day) == (today, today)
    assert found.part is None
    assert found.specialty_ids == (skin.id,)
    assert found.doctor_ids == ()
    assert (
        wish_of("answer", {"reply": "maybe"}, today=today, specialties=[], doctors=[]).answer
        is None
    )
    assert (
        wish_of("answer", {"reply": "no"}, today=today, specialties=[], doctors=[]).answer
        is Answer.no
    )
    assert (
        wish_of("choose_offer", {"number": 3}, today=today, specialties=[], doctors=[]).choice == 3
    )
    assert wish_of("ask_again", {}, today=today, specialties=[], doctors=[]).asks_for_times is False
