"""Pages that belong to no single domain: the front door and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from clinicflow import i18n
from clinicflow.deps import CsrfProtected, OptionalPageUser, Session
from clinicflow.identity import service as identity
from clinicflow.routing import TransactionalRoute
from clinicflow.web.assets import ASSETS

LANGUAGE_COOKIE = "cf_lang"
ONE_YEAR = 365 * 24 * 3600
ICON = "img/icon.svg"

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


def safe_next(target: str | None, default: str = "/home") -> str:
    """Only same-site paths, so a crafted link cannot bounce a user to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


@router.get("/favicon.ico")
async def favicon() -> RedirectResponse:
    """Browsers ask for /favicon.ico before reading any page's `<link rel="icon">` (and
    bookmarks and tab strips still do): send them to the versioned icon, cached for a year."""
    return RedirectResponse(ASSETS.url(ICON), status_code=301)


# Where a signed-out patient was going when a page sent them to the phone sign-in (a QR code
# on the board or an appointment): the code is asked for and typed on two pages, so the
# target rides in a short-lived cookie instead of being threaded through both forms.
NEXT_COOKIE = "cf_next"
NEXT_COOKIE_SECONDS = 30 * 60


def remember_next(request: Request, response: Response, target: str) -> None:
    response.set_cookie(
        NEXT_COOKIE,
        safe_next(target),
        max_age=NEXT_COOKIE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def remembered_next(request: Request) -> str:
    """The remembered target, checked again (a cookie is the browser's to change)."""
    return safe_next(request.cookies.get(NEXT_COOKIE))


@router.get("/")
async def front_door(user: OptionalPageUser) -> RedirectResponse:
    return RedirectResponse("/home" if user else "/login", status_code=303)


def set_language_cookie(request: Request, response: Response, language: str) -> None:
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=ONE_YEAR,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


@router.post("/lang", dependencies=[CsrfProtected])
async def switch_language(
    request: Request,
    session: Session,
    user: OptionalPageUser,
    lang: Annotated[str, Form(max_length=5)],
    next: Annotated[str | None, Form(max_length=500)] = None,
) -> RedirectResponse:
    """Switch the pages' language; a patient's choice also becomes the language of their texts."""
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    if lang in i18n.LANGUAGES:
        set_language_cookie(request, response, lang)
        if user is not None:
            await identity.set_preferred_language(session=session, user=user, language=lang)
    return response
