"""The public display board (`/board`), for a screen in the waiting room, and its kiosk mode
(`/board/kiosk`): no site header, type readable across the room, a Fullscreen button and a
chime when a new token is called (`static/js/queue-board.js`).

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


async def _board(
    request: Request, session: AsyncSession, clinic: Clinic, *, kiosk: bool
) -> Response:
    url = arrival_url(clinic.public_url)
    return render(
        request,
        "queue/board.html",
        {
            **await _rows(session),
            "arrival_url": url,
            "qr": qr_svg(url, _("Scan to check in")),
            "kiosk": kiosk,
        },
    )


@router.get("/board")
async def display_board(request: Request, session: Session, clinic: Clinic) -> Response:
    """No sign-in: numbers and doctors' names only, for a screen in the waiting room."""
    return await _board(request, session, clinic, kiosk=False)


@router.get("/board/kiosk")
async def kiosk_board(request: Request, session: Session, clinic: Clinic) -> Response:
    """The board for a screen left running: the same rows without the site's header, in
    large type; "Start kiosk" (the one click a browser needs before it plays sound) goes
    full screen and turns on the chime."""
    return await _board(request, session, clinic, kiosk=True)


@router.get("/board/fragment")
async def display_board_fragment(request: Request, session: Session) -> Response:
    """The rows alone, as public as the page."""
    return render_block(request, "queue/board.html", "board_rows", await _rows(session))
