"""The public display board (`/board`), for a screen in the waiting room."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clinicflow.deps import Session, SettingsDep
from clinicflow.i18n import gettext as _
from clinicflow.queue import service as queues
from clinicflow.queue.pages.check_in_cards import arrival_url, qr_svg
from clinicflow.routing import TransactionalRoute
from clinicflow.web.templating import render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


@router.get("/board")
async def display_board(request: Request, session: Session, settings: SettingsDep) -> Response:
    """No sign-in: numbers and doctors' names only, for a screen in the waiting room."""
    rows = [row.model_dump(mode="json") for row in await queues.board(session)]
    url = arrival_url(settings)
    return render(
        request,
        "queue/board.html",
        {
            "rows": rows,
            "arrival_url": url,
            "qr": qr_svg(url, _("Scan to check in")),
            "config": {
                "rows": rows,
                "text": {
                    "waiting": _("Waiting: {count}"),
                    "paused": _("Paused"),
                    "away": _("Away"),
                    "stale": _("Updates are late: checking again…"),
                },
            },
        },
    )
