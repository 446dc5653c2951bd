"""The Gemini provider: the consultation's memory and transcript sent to Gemini through the
`google-genai` SDK, the answer streamed back (`:streamGenerateContent?alt=sse`).

Only what `Request` holds leaves the server, and only for the consultation asked about.
The SDK's own retries are off: a retried stream would repeat pieces already shown, and the
runner turns a failure into a system message instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import httpx
from google import genai
from google.genai import types

from clinicflow.assistant.requests import Command, Quote, Request

# Named, not left to the SDK, whose default differs with and without a custom base URL.
API_VERSION = "v1beta"
SYSTEM_PROMPT = """\
You are the clinical assistant of the doctor in one telehealth consultation.
Your role: summarise the consultation, recall what was said or what the doctor asked you to \
remember, and draft documents (such as a prescription) for the doctor to check.
Use only the consultation's memory and transcript given to you; never invent findings. Quote \
the time of what you rely on. When nothing relevant is there, say so plainly.
You do not diagnose and you do not give treatment advice to the patient: when the patient asks, \
answer from what was said and suggest asking the doctor for anything medical.
A draft is only a draft: the doctor must check and confirm it. Be brief."""

TASKS = {
    Command.summary: "Summarise the consultation so far.",
    Command.recall: "Recall what this consultation holds about: {topic}",
    Command.draft_prescription: (
        "Draft a prescription from this consultation for the doctor to check and confirm. "
        "Answer with JSON only, exactly this shape: "
        '{{"medications": [{{"name": "", "strength": "", "dosage": "", "route": "", '
        '"frequency": "", "duration": "", "quantity": "", "instructions": ""}}], '
        '"lifestyle_advice": "", "dietary_instructions": "", "warning_signs": ""}}. '
        "One entry per medicine the doctor stated; leave a field empty when it was not stated."
    ),
    Command.ask: "Answer: {topic}",
}


# The language the answer is read in, named for the model.
LANGUAGE_NAMES = {"en": "English", "sw": "Swahili (Kiswahili)"}


def _lines(quotes: list[Quote] | tuple[Quote, ...], zone: ZoneInfo) -> str:
    return "\n".join(
        f"- [{quote.at.astimezone(zone):%H:%M}] {quote.who + ': ' if quote.who else ''}{quote.text}"
        for quote in quotes
    )


def prompt(request: Request) -> str:
    """The user turn: the task, who asks and in which language to answer them, then the
    memory and the transcript, their times on the clinic's clock."""
    task = TASKS.get(request.command, TASKS[Command.ask]).format(topic=request.topic)
    zone = ZoneInfo(request.zone)
    language = LANGUAGE_NAMES.get(request.language, LANGUAGE_NAMES["en"])
    parts = [
        f"Task: {task}",
        f"Asked by: the {request.asker}",
        f"Answer in {language}; times are on the clinic's clock ({request.zone}), 24-hour.",
        f"Patient: {request.patient_name}",
        f"Problem stated at the start: {request.problem}",
        "Memory (findings and instructions the doctor asked you to remember):",
        _lines(list(request.memory), zone) or "(none)",
        "Transcript (oldest first):",
        _lines(list(request.transcript), zone) or "(none)",
    ]
    return "\n".join(parts)


def client(*, api_key: str, base_url: str | None, timeout_seconds: float) -> genai.Client:
    """A Gemini client that tries once within `timeout_seconds`: a slow or failing model
    falls back to the offline answer rather than keeping the person waiting."""
    return genai.Client(
        api_key=api_key,
        http_options=types.HttpOptions(
            base_url=base_url,
            api_version=API_VERSION,
            timeout=int(timeout_seconds * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),
        ),
    )


class GeminiProvider:
    name = "gemini"

    def __init__(
        self, *, api_key: str, model: str, base_url: str | None, timeout_seconds: float
    ) -> None:
        self._model = model
        self._client = client(api_key=api_key, base_url=base_url, timeout_seconds=timeout_seconds)

    async def answer(self, request: Request) -> AsyncIterator[str]:
        try:
            stream = await self._client.aio.models.generate_content_stream(
                model=self._model,
                contents=prompt(request),
                config=types.GenerateContentConfig(
                    system_instruction=SYSTEM_PROMPT,
                    response_mime_type=(
                        "application/json"
                        if request.command is Command.draft_prescription
                        else None
                    ),
                ),
            )
            async for chunk in stream:
                if chunk.text:
                    yield chunk.text
        except httpx.TimeoutException as exc:
            raise TimeoutError("Gemini did not answer in time") from exc
