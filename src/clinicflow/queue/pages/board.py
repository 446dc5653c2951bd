"""The public display board (`/board`), for a screen in the waiting room.

The rows are the block `board_rows` of the page's template, drawn on the first response and
again alone by `/board/fragment`, which `static/js/queue-board.js` polls: a screen nobody
signs in on cannot follow a topic (sockets need a sign-in).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.deps import Clinic, Session
from clinicflow.i18n import gettext as _
from clinicflow.queue import service as queues
from clinicflow.queue.pages.check_in_cards import arrival_url, qr_svg
from clinicflow.routing import TransactionalRoute
from clinicflow.web.templating import render, render_block

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


async def _rows(session: AsyncSession) -> dict[str, Any]:
    """What the block `board_rows` reads: numbers and doctors' names only."""
    return {"rows": await queues.board(session)}


@router.get("/board")
async def display_board(request: Request, session: Session, clinic: Clinic) -> Response:
    """No sign-in: numbers and doctors' names only, for a screen in the waiting room."""
    url = arrival_url(clinic.public_url)
    return render(
        request,
        "queue/board.html",
        {**await _rows(session), "arrival_url": url, "qr": qr_svg(url, _("Scan to check in"))},
    )


@router.get("/board/fragment")
async def display_board_fragment(request: Request, session: Session) -> Response:
    """The rows alone, as public as the page."""
    return render_block(request, "queue/board.html", "board_rows", await _rows(session))
