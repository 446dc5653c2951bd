"""Rendering pages: one Jinja environment, translated through Babel, with CSRF built in.

Every form carries the token from the `cf_csrf` cookie (double submit); the cookie is set
on the first page a browser sees, so even the login form is protected.

`render` draws a whole page; `render_block` draws one block of a page's own template with the
same context, for a live page that fetches the part an event changed and swaps it in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2_fragments import render_block as draw_block
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import i18n
from clinicflow.clinic import phones
from clinicflow.core import labels, moments, security
from clinicflow.core.errors import AppError
from clinicflow.db import KeepChanges
from clinicflow.deps import CSRF_COOKIE, SESSION_COOKIE
from clinicflow.web.assets import ASSETS
from clinicflow.web.headers import IMPORT_MAP_JSON
from clinicflow.web.navigation import navigation_for

TEMPLATE_DIR = Path(__file__).parent / "templates"

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    autoescape=True,
    extensions=["jinja2.ext.i18n"],
)
_environment.install_gettext_callables(  # type: ignore[attr-defined]
    gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
)
_environment.policies["ext.i18n.trimmed"] = True
_environment.globals["static_url"] = ASSETS.url
_environment.globals["import_map_json"] = IMPORT_MAP_JSON
_environment.globals["choices"] = labels.choices


@jinja2.pass_context
def moment(context: Any, at: datetime | None, style: moments.Style = "datetime") -> str:
    """`{{ at | moment }}`, `{{ at | moment("time") }}`: a stored moment on the clinic's clock,
    in the page's language (core/moments.py). The zone comes from the page's context, which
    has it when the route declares `deps.Clinic`; a page that forgot fails loudly rather than
    showing UTC."""
    if at is None:
        return ""
    zone = context.get("clinic_zone")
    if not zone:
        raise RuntimeError("a page that shows a time declares deps.Clinic")
    return moments.format_moment(at, zone, i18n.current_language(), style)


_environment.filters["moment"] = moment
# A calendar day already on the clinic's clock (a follow-up date, an onset): words only.
_environment.filters["day"] = moments.format_day
# A length of time in words ("4 min 12 s"): a call's, in the record.
_environment.filters["duration"] = moments.format_duration
# Every phone a page shows goes through one filter: national format in the clinic's region.
_environment.filters["phone"] = phones.shown
_environment.globals["phone_example"] = phones.example
templates = Jinja2Templates(env=_environment)


def csrf_token(request: Request) -> str:
    token: str | None = getattr(request.state, "csrf_token", None)
    if token is None:
        token = request.cookies.get(CSRF_COOKIE) or security.new_opaque_token()
        request.state.csrf_token = token
    return token


def set_csrf_cookie(request: Request, response: Any) -> None:
    token = csrf_token(request)
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )


def page_context(request: Request, context: dict[str, Any] | None) -> dict[str, Any]:
    """What every page's template may use, beside what its handler passes."""
    viewer = getattr(request.state, "viewer", None)
    return {
        "user": viewer,
        "nav": navigation_for(viewer.role if viewer else None),
        "csrf_token": csrf_token(request),
        "lang": i18n.current_language(),
        "languages": i18n.LANGUAGES,
        "clinic_zone": getattr(request.state, "clinic_zone", None),
        # No session at all (not a page merely drawn for nobody): the device keeps nothing.
        "signed_out_browser": viewer is None and SESSION_COOKIE not in request.cookies,
        **(context or {}),
    }


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, template, page_context(request, context), status_code=status_code
    )
    set_csrf_cookie(request, response)
    return response


def render_block(
    request: Request, template: str, block_name: str, context: dict[str, Any] | None = None
) -> HTMLResponse:
    """One block of `template`, drawn with the context `render` would give the whole page.

    A block drawn alone sees the context and nothing else: the template's top-level imports
    and macros are not run, so a block meant to be drawn alone imports and defines what it
    uses inside itself. The block must be written in `template` itself, not only inherited
    (see docs/web.md).
    """
    block_context = {"request": request, **page_context(request, context)}
    response = HTMLResponse(draw_block(_environment, template, block_name, block_context))
    set_csrf_cookie(request, response)
    return response


async def drop_refused_changes(session: AsyncSession, exc: AppError) -> None:
    """Before a page shows a service's refusal: undo what the refused call did, unless the
    refusal itself must be kept (a failed sign-in's audit row, a wrong code's count)."""
    if not isinstance(exc, KeepChanges):
        await session.rollback()


def render_refusal(
    request: Request, exc: AppError, template: str, context: dict[str, Any]
) -> HTMLResponse:
    """The form again, with the refusal's message, status and headers (Retry-After)."""
    response = render(request, template, {**context, "error": exc.message}, status_code=exc.status)
    response.headers.update(exc.headers)
    return response


async def refusal_page(
    request: Request,
    session: AsyncSession,
    exc: AppError,
    template: str,
    context: Callable[[], Awaitable[dict[str, Any]]],
    **extra: Any,
) -> HTMLResponse:
    """The page a form posted from, shown again with a service's refusal.

    The refused call's changes are undone first and only then is the context read, so the
    page is drawn from what is stored, not from what the refused call left in the session.
    """
    await drop_refused_changes(session, exc)
    return render_refusal(request, exc, template, {**await context(), **extra})
