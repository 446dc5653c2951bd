"""render_block: one block of a page's own template, drawn with the context the whole page
gets, so a live page can fetch the part an event changed and swap it in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from clinicflow.consultations.schemas import ConsultationStatus, ConsultationType
from clinicflow.deps import PageViewer
from clinicflow.identity.schemas import Role
from clinicflow.routing import TransactionalRoute
from clinicflow.runtime import Runtime
from clinicflow.web.templating import render, render_block
from tests.factories import Accounts, sign_in_page_patient
from tests.web.tour import browser

TEMPLATE = "consultations/list.html"
CONSULTATION = uuid.UUID("0b7c8a52-4a51-4d5c-9f43-2f1f3c9f7a10")


def listing(rows: int) -> dict[str, Any]:
    """What the consultation list's handler gives its template, with `rows` consultations."""
    row = {
        "id": CONSULTATION,
        "status": ConsultationStatus.pending,
        "type": ConsultationType.chat,
        "patient_name": "Amina",
        "doctor_name": "Dr Otieno",
        "problem": "Headache for three days",
        "created_at": datetime(2026, 3, 2, 9, tzinfo=UTC),
    }
    return {
        "groups": [("Waiting", [row] * rows, "waiting")],
        "doctors": [],
        "form": {"doctor_id": "", "problem": "", "type": ""},
        "viewer_is_doctor": False,
        "desk": False,
    }


@pytest.fixture
def pages(app: FastAPI) -> FastAPI:
    """Pages drawn whole and block by block for a signed-in viewer, from the consultation
    list's context (plus an unread notification count)."""
    router = APIRouter(route_class=TransactionalRoute)

    @router.get("/test/page")
    async def whole(request: Request, viewer: PageViewer, rows: int = 1) -> HTMLResponse:
        return render(request, TEMPLATE, listing(rows))

    @router.get("/test/block")
    async def part(
        request: Request, viewer: PageViewer, block: str, template: str = TEMPLATE, rows: int = 1
    ) -> HTMLResponse:
        return render_block(request, template, block, {**listing(rows), "items": [], "unread": 1})

    app.include_router(router)
    return app


async def test_a_block_is_drawn_alone_as_the_page_draws_it(
    pages: FastAPI, accounts: Accounts, runtime: Runtime
) -> None:
    patient = await accounts.make(Role.patient)
    async with browser(pages) as client:
        await sign_in_page_patient(client, runtime, patient)
        page = (await client.get("/test/page")).text
        groups = await client.get("/test/block", params={"block": "consultation_groups"})

    assert groups.status_code == 200
    assert groups.headers["content-type"].startswith("text/html")
    fragment = groups.text
    assert fragment.strip().startswith('<div id="consultation-groups">')
    assert fragment.strip().endswith("</div>")
    assert fragment.count('data-testid="consultation"') == 1
    assert "Headache for three days" in fragment
    assert "<html" not in fragment
    assert "site-header" not in fragment
    assert fragment in page


async def test_a_block_gets_what_every_page_gets(
    pages: FastAPI, accounts: Accounts, runtime: Runtime
) -> None:
    """The viewer, the CSRF token and the language, as `render` gives them."""
    patient = await accounts.make(Role.patient)
    async with browser(pages) as client:
        await sign_in_page_patient(client, runtime, patient)
        welcome = await client.get(
            "/test/block", params={"template": "home/_shell.html", "block": "content"}
        )
        inbox = await client.get(
            "/test/block", params={"template": "notifications/list.html", "block": "content"}
        )
        token = client.cookies["cf_csrf"]

        client.cookies.set("cf_lang", "sw")
        swahili = await client.get(
            "/test/block", params={"block": "consultation_groups", "rows": 0}
        )

    assert f"Welcome, {patient.name}" in welcome.text
    assert "<html" not in welcome.text
    assert f'name="csrf_token" value="{token}"' in inbox.text
    assert "Bado hakuna mashauriano." in swahili.text


async def test_a_block_sets_the_csrf_cookie_for_a_new_browser(
    pages: FastAPI, accounts: Accounts, runtime: Runtime
) -> None:
    patient = await accounts.make(Role.patient)
    async with browser(pages) as client:
        await sign_in_page_patient(client, runtime, patient)
        client.cookies.delete("cf_csrf")
        response = await client.get(
            "/test/block", params={"template": "notifications/list.html", "block": "content"}
        )
    assert "cf_csrf" in response.cookies
    assert f'value="{response.cookies["cf_csrf"]}"' in response.text
