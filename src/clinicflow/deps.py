"""Every FastAPI dependency, with its `Annotated` alias, in one place."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, params
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic import service as clinic
from clinicflow.clinic.schemas import ClinicProfile
from clinicflow.config import Settings, ThrottledSurface
from clinicflow.core import security
from clinicflow.core.errors import AppError, ErrorCode, RateLimited, not_found
from clinicflow.core.ratelimit import RateLimiter
from clinicflow.i18n import gettext as _
from clinicflow.identity import access as identity_access
from clinicflow.identity import service as identity
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime

SESSION_COOKIE = "cf_session"
CSRF_COOKIE = "cf_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Every dependency here is `async def` though none awaits: FastAPI runs a plain `def`
# dependency in the thread pool, a hand-off to a thread and back for each one. GET /api/me
# made 19 such hops, the largest cost of the request after the database (docs/performance.md).


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_session(request: Request) -> AsyncSession:
    session: AsyncSession = request.state.db
    return session


async def get_settings(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Settings:
    return runtime.settings


async def get_limiter(runtime: Annotated[Runtime, Depends(get_runtime)]) -> RateLimiter:
    return runtime.limiter


async def get_client(request: Request) -> identity.Client:
    return identity.Client(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Session = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
Limiter = Annotated[RateLimiter, Depends(get_limiter)]
ClientInfo = Annotated[identity.Client, Depends(get_client)]


async def get_clinic(request: Request, session: Session, settings: SettingsDep) -> ClinicProfile:
    """The clinic as this request's transaction read it at its start (`routing`), so one
    request never mixes two versions and reads it once. Its zone is also kept on the
    request, where the pages' `moment` filter reads it (web/templating.py). Every page with a
    viewer asks for it (below); a public page that shows a time declares `Clinic` itself."""
    read: ClinicProfile | None = getattr(request.state, "clinic", None)
    profile = read if read is not None else await clinic.current(session=session, defaults=settings)
    request.state.clinic_zone = profile.timezone
    return profile


Clinic = Annotated[ClinicProfile, Depends(get_clinic)]


def csrf_ok(request: Request, submitted: str | None) -> bool:
    expected = request.cookies.get(CSRF_COOKIE)
    return bool(expected and submitted and security.constant_time_equal(expected, submitted))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, for requests and sockets alike."""
    scheme, _sep, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def get_authenticated(
    request: Request, session: Session, settings: SettingsDep
) -> identity.Authenticated | None:
    """The caller's login, from a bearer token or the page's session cookie.

    A cookie rides along on cross-site requests, so an unsafe API call authenticated by
    cookie must also carry the CSRF token; a bearer token cannot be sent by another site.
    """
    # A read may be answered from the process's copy of the login; a write always reads
    # the login in its own transaction (identity's `_held_login` says what that means).
    held = request.method in SAFE_METHODS
    token = bearer_token(request.headers.get("authorization"))
    if token:
        found = await identity.authenticate_access_token(
            session=session, settings=settings, token=token, held=held
        )
        if found is None:
            raise AppError(
                ErrorCode.invalid_token, _("The access token is invalid or has expired.")
            )
        return found
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = await identity.authenticate_cookie(session=session, cookie=cookie, held=held)
    if (
        found is not None
        and request.method not in SAFE_METHODS
        and request.url.path.startswith("/api/")
        and not csrf_ok(request, request.headers.get(CSRF_HEADER))
    ):
        raise AppError(ErrorCode.csrf_failed, _("Missing or wrong CSRF token."))
    return found


AuthenticatedDep = Annotated[identity.Authenticated | None, Depends(get_authenticated)]


async def get_authenticated_if_valid(
    request: Request, session: Session, settings: SettingsDep
) -> identity.Authenticated | None:
    """Like `get_authenticated`, but a stale or bad credential just means "nobody".

    Signing out must work with an expired access token: the refresh token in the body
    still names the login to end.
    """
    try:
        return await get_authenticated(request, session, settings)
    except AppError as exc:
        if exc.code is ErrorCode.invalid_token:
            return None
        raise


LenientAuthenticatedDep = Annotated[
    identity.Authenticated | None, Depends(get_authenticated_if_valid)
]


async def get_user_with_any_password(auth: AuthenticatedDep) -> User:
    """The signed-in caller, even one still holding a temporary password: only for
    changing that password."""
    if auth is None:
        raise AppError(ErrorCode.authentication_required, _("Sign in to continue."))
    return auth.user


UserWithAnyPassword = Annotated[User, Depends(get_user_with_any_password)]


async def get_current_user(user: UserWithAnyPassword) -> User:
    identity_access.require_password_settled(user)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_reader(auth: AuthenticatedDep) -> User:
    """The caller of a route on one protected record. Nobody signed in gets the record's own
    not-found rather than a 401, which would say "this exists, sign in"."""
    if auth is None:
        raise not_found()
    identity_access.require_password_settled(auth.user)
    return auth.user


Reader = Annotated[User, Depends(get_reader)]


async def get_current_admin(user: CurrentUser) -> User:
    identity_access.require_user_manager(user)
    return user


CurrentAdmin = Annotated[User, Depends(get_current_admin)]


class LoginRedirect(Exception):
    """Raised by page dependencies when the browser must sign in first."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True)
class Viewer:
    """Who the page is for, copied out of the session so that an error page rendered
    after a rollback never touches an expired database object."""

    id: uuid.UUID
    name: str
    role: Role
    # False while a temporary password waits to be changed: that page opens no socket (the
    # socket refuses such a login, and its refusal would send the browser to sign in).
    settled: bool = True


def _remember_viewer(request: Request, user: User | None) -> None:
    request.state.viewer = (
        Viewer(user.id, user.name, user.role, not identity_access.must_change_password(user))
        if user
        else None
    )


class PasswordChangeRedirect(Exception):
    """Raised by page dependencies while the user still holds a temporary password."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def get_page_user_with_any_password(
    request: Request, auth: AuthenticatedDep, _clinic: Clinic
) -> User:
    """The signed-in page user, even one still holding a temporary password (the
    change-password page itself). Every page with a viewer also reads the clinic, so its
    times are on the clinic's clock (`_clinic` keeps the zone on the request)."""
    if auth is None:
        raise LoginRedirect(request.url.path)
    _remember_viewer(request, auth.user)
    return auth.user


PageUserWithAnyPassword = Annotated[User, Depends(get_page_user_with_any_password)]


async def get_page_user(request: Request, user: PageUserWithAnyPassword) -> User:
    if identity_access.must_change_password(user):
        raise PasswordChangeRedirect(request.url.path)
    return user


async def get_optional_page_user(
    request: Request, auth: AuthenticatedDep, _clinic: Clinic
) -> User | None:
    user = auth.user if auth else None
    _remember_viewer(request, user)
    return user


async def verify_csrf_form(request: Request) -> None:
    """Every page form post must echo the CSRF cookie in its `csrf_token` field."""
    form = await request.form()
    submitted = form.get("csrf_token")
    if not csrf_ok(request, submitted if isinstance(submitted, str) else None):
        raise AppError(
            ErrorCode.csrf_failed,
            _("This form has expired. Go back, reload the page and try again."),
        )


PageUser = Annotated[User, Depends(get_page_user)]


async def get_page_viewer(request: Request, user: PageUser) -> Viewer:
    """The signed-in user as plain values, for pages that may roll back a refused change
    and then render (a rollback expires the ORM user)."""
    viewer: Viewer = request.state.viewer
    return viewer


PageViewer = Annotated[Viewer, Depends(get_page_viewer)]
OptionalPageUser = Annotated[User | None, Depends(get_optional_page_user)]
CsrfProtected = Depends(verify_csrf_form)


@dataclass(frozen=True)
class Throttled:
    """A surface that costs the clinic money or attention (a consultation request a doctor
    must read, a hold that takes a time from everyone else, an upload, a push
    subscription): each request counts against the caller's budget and their network
    address's, per hour, in the process's rate limiter (memory, or Redis shared by every
    process). Past either budget the answer is 429 with `Retry-After`.

    An address is shared (a clinic's Wi-Fi, a family's phone), so its budget is larger;
    an anonymous request counts against its address alone.
    """

    surface: ThrottledSurface

    async def __call__(self, request: Request, runtime: RuntimeDep, auth: AuthenticatedDep) -> None:
        per_user, per_address = runtime.settings.throttle(self.surface)
        budgets = [(f"throttle:{self.surface}:ip:{_address(request)}", per_address)]
        if auth is not None:
            budgets.append((f"throttle:{self.surface}:user:{auth.user.id}", per_user))
        for key, limit in budgets:
            hits, retry_after = await runtime.limiter.hit(key, THROTTLE_WINDOW_SECONDS)
            if hits > limit:
                raise RateLimited(retry_after)


THROTTLE_WINDOW_SECONDS = 3600


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def throttled(surface: ThrottledSurface) -> params.Depends:
    """`dependencies=[throttled("holds")]` on a route: see `Throttled`."""
    dependency: params.Depends = Depends(Throttled(surface))
    return dependency
