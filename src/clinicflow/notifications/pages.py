"""The development outbox: every message the app would have sent, readable by a developer.

Mounted only when CLINICFLOW_ENV=development, so it answers 404 everywhere else.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clinicflow.deps import RuntimeDep
from clinicflow.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/dev/outbox.json")
async def outbox_json(runtime: RuntimeDep) -> list[dict[str, Any]]:
    outbox = runtime.outbox
    return [message.as_json() for message in outbox.messages()] if outbox else []


@router.get("/dev/outbox")
async def outbox_page(request: Request, runtime: RuntimeDep) -> Response:
    messages = runtime.outbox.messages() if runtime.outbox else []
    return render(request, "notifications/outbox.html", {"messages": messages})
