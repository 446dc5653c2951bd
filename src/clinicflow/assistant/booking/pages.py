"""The page of booking by conversation, "Book with the assistant" (linked from /book for
patients); the conversation itself goes through the API (`booking/api.py`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clinicflow.assistant import access
from clinicflow.deps import Clinic, PageUser
from clinicflow.routing import TransactionalRoute
from clinicflow.web.templating import render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


@router.get("/book-with-assistant")
async def book_with_assistant(request: Request, user: PageUser, clinic: Clinic) -> Response:
    """Patients only, like the API it talks to; offered times are shown on the clinic's clock."""
    access.require_booker(user)
    return render(request, "assistant/book.html", {"zone": clinic.timezone})
