"""Reading a booking message with Gemini function calling, when `GEMINI_API_KEY` is set.

The model is given the clinic's date, its specialties and doctors, and four functions that
are the offline rules' own filters: `find_times` (days, part of the day, specialty, doctor),
`choose_offer` (a number), `answer` (yes or no) and `ask_again`. It must call one; its call
becomes the same `Wish` the rules produce, and the conversation then runs through the same
scheduling verbs (`service/booking.py`). Only the message, the date and the clinic's public
directory leave the server. A failure, a timeout or no call falls back to the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import structlog
from google.genai import types

from clinicflow.assistant import gemini
from clinicflow.assistant.booking.understanding import (
    Answer,
    Named,
    Part,
    Wish,
    named_in,
    specialties_in,
    understand,
)

log = structlog.get_logger(__name__)

SYSTEM_PROMPT = """\
You read what a patient writes to book a clinic appointment, in English or Swahili, and call \
exactly one function. Today in the clinic is {today} ({weekday}). Dates are YYYY-MM-DD, never \
before today. Specialties: {specialties}. Doctors: {doctors}."""

FUNCTIONS = [
    types.FunctionDeclaration(
        name="find_times",
        description="Find free times matching what the patient asked for.",
        parameters_json_schema={
            "type": "object",
            "properties": {
                "first_day": {"type": "string", "description": "YYYY-MM-DD"},
                "last_day": {"type": "string", "description": "YYYY-MM-DD"},
                "part_of_day": {"type": "string", "enum": [p.value for p in Part]},
                "specialty": {"type": "string", "description": "one of the specialties"},
                "doctor": {"type": "string", "description": "one of the doctors"},
            },
        },
    ),
    types.FunctionDeclaration(
        name="choose_offer",
        description="The patient picks one of the times offered, by its number.",
        parameters_json_schema={
            "type": "object",
            "properties": {"number": {"type": "integer", "minimum": 1, "maximum": 3}},
            "required": ["number"],
        },
    ),
    types.FunctionDeclaration(
        name="answer",
        description="The patient answers yes or no to booking the held time or to the waitlist.",
        parameters_json_schema={
            "type": "object",
            "properties": {"reply": {"type": "string", "enum": ["yes", "no"]}},
            "required": ["reply"],
        },
    ),
    types.FunctionDeclaration(
        name="ask_again", description="The message says nothing about booking."
    ),
]


def _day(value: Any, today: date) -> date | None:
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return None
    return max(day, today)


def wish_of(
    name: str,
    args: dict[str, Any],
    *,
    today: date,
    specialties: Sequence[Named],
    doctors: Sequence[Named],
) -> Wish:
    """The function call as the rules' `Wish` (a bad argument is left out, never trusted)."""
    if name == "choose_offer" and isinstance(args.get("number"), int | float):
        return Wish(choice=int(args["number"]))
    if name == "answer" and args.get("reply") in ("yes", "no"):
        return Wish(answer=Answer(args["reply"]))
    if name != "find_times":
        return Wish()
    first = _day(args.get("first_day"), today) if args.get("first_day") else None
    last = _day(args.get("last_day"), today) if args.get("last_day") else first
    if first is not None and (last is None or last < first):
        last = first
    part = args.get("part_of_day")
    return Wish(
        first_day=first,
        last_day=last if first else None,
        part=Part(part) if part in {p.value for p in Part} else None,
        specialty_ids=specialties_in(str(args.get("specialty") or ""), specialties),
        doctor_ids=named_in(str(args.get("doctor") or ""), doctors),
    )


class GeminiReader:
    def __init__(
        self, *, api_key: str, model: str, base_url: str | None, timeout_seconds: float
    ) -> None:
        self._model = model
        self._client = gemini.client(
            api_key=api_key, base_url=base_url, timeout_seconds=timeout_seconds
        )

    async def read(
        self, text: str, *, today: date, specialties: Sequence[Named], doctors: Sequence[Named]
    ) -> Wish:
        prompt = SYSTEM_PROMPT.format(
            today=today.isoformat(),
            weekday=today.strftime("%A"),
            specialties=", ".join(" / ".join(s.names) for s in specialties) or "(none)",
            doctors=", ".join(d.names[0] for d in doctors) or "(none)",
        )
        try:
            response = await self._client.aio.models.generate_content(
                model=self._model,
                contents=text,
                config=types.GenerateContentConfig(
                    system_instruction=prompt,
                    tools=[types.Tool(function_declarations=FUNCTIONS)],
                    tool_config=types.ToolConfig(
                        function_calling_config=types.FunctionCallingConfig(mode="ANY")
                    ),
                    automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
                ),
            )
            calls = response.function_calls or []
        except Exception:
            log.warning("booking.gemini_failed", exc_info=True)
            calls = []
        if not calls or not calls[0].name:
            return understand(text, today=today, specialties=specialties, doctors=doctors)
        return wish_of(
            calls[0].name,
            dict(calls[0].args or {}),
            today=today,
            specialties=specialties,
            doctors=doctors,
        )
