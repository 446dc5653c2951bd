"""create_app(): wires settings, routers, middleware and the process's resources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from clinicflow import db, handins, i18n, worker
from clinicflow.analytics import api as analytics_api
from clinicflow.analytics import pages as analytics_pages
from clinicflow.assistant import api as assistant_api
from clinicflow.assistant import pages as assistant_pages
from clinicflow.assistant.booking import api as booking_assistant_api
from clinicflow.assistant.booking import pages as booking_assistant_pages
from clinicflow.assistant.drafts import ChartDrafts
from clinicflow.assistant.providers import build_provider
from clinicflow.assistant.runner import Assistant
from clinicflow.auditlog import api as auditlog_api
from clinicflow.auditlog import pages as auditlog_pages
from clinicflow.calls import api as calls_api
from clinicflow.calls import pages as calls_pages
from clinicflow.calls.events import CallSignals
from clinicflow.clinic import api as clinic_api
from clinicflow.clinic import pages as clinic_pages
from clinicflow.config import Settings, get_settings
from clinicflow.consultations import api as consultations_api
from clinicflow.consultations import pages as consultations_pages
from clinicflow.consultations.events import ConsultationTopic
from clinicflow.core import errortracking, observability
from clinicflow.core.edge import BodyLimitMiddleware, BodyTooLarge, too_large_body
from clinicflow.core.errors import AppError, ErrorCode, error_body
from clinicflow.deps import LoginRedirect, PasswordChangeRedirect
from clinicflow.i18n import gettext as _
from clinicflow.identity import api as identity_api
from clinicflow.identity import doctor_pages as identity_doctor_pages
from clinicflow.identity import pages as identity_pages
from clinicflow.identity import staff_pages as identity_staff_pages
from clinicflow.notifications import api as notifications_api
from clinicflow.notifications import pages as notification_pages
from clinicflow.operations import health, scrape
from clinicflow.queue import api as queue_api
from clinicflow.queue import events as queue_events
from clinicflow.queue import pages as queue_pages
from clinicflow.realtime import api as realtime_api
from clinicflow.realtime.topics import UserTopic
from clinicflow.records import api as records_api
from clinicflow.records import lists_api as records_lists_api
from clinicflow.records import lists_pages as records_lists_pages
from clinicflow.records import pages as records_pages
from clinicflow.runtime import build_runtime
from clinicflow.scheduling import api as scheduling_api
from clinicflow.scheduling import pages as scheduling_pages
from clinicflow.scheduling.events import AvailabilityTopic
from clinicflow.sync import api as sync_api
from clinicflow.web import api_docs
from clinicflow.web import home as web_home
from clinicflow.web import install as web_install
from clinicflow.web import pages as web_pages
from clinicflow.web.assets import ASSETS, STATIC_PATH, VersionedStaticFiles
from clinicflow.web.clinical import use_allergy_lines
from clinicflow.web.headers import SecurityHeadersMiddleware
from clinicflow.web.pages import remember_next
from clinicflow.web.templating import render

log = structlog.get_logger(__name__)

# Below about a kilobyte gzip saves less than its own header and the CPU it costs; level 5
# gives nearly level 9's size for a third of the time.
GZIP_MINIMUM_BYTES = 1024
GZIP_LEVEL = 5
HTTP_CODES = {404: ErrorCode.not_found, 405: ErrorCode.method_not_allowed}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    observability.configure_logging(settings)
    errortracking.configure(settings, component="web")
    runtime = build_runtime(settings, session_info=handins.session_info())
    metrics = runtime.metrics
    assistant = Assistant(runtime, build_provider(settings))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await assistant.start()
        async with db.checkpoints(runtime.engine), worker.embedded(runtime):
            yield
        await assistant.stop()
        await runtime.close()

    app = FastAPI(
        title="clinicflow",
        version="0.1.0",
        summary="Clinic and telehealth platform: booking, live queues, consultations.",
        lifespan=lifespan,
        # The documentation is ours (web.api_docs: no CDN), and only where it is enabled.
        docs_url=None,
        redoc_url=None,
        openapi_url=api_docs.OPENAPI_PATH if settings.api_docs_enabled else None,
        # FastAPI's OpenTelemetry bridge asked three providers whether to trace on every
        # request; ours are the Prometheus metrics and the scrubbed error reports
        # (core.observability, core.errortracking), and its logs would carry exception text.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.runtime = runtime
    app.state.metrics = metrics
    app.state.assistant = assistant

    app.include_router(observability.router)
    app.include_router(health.router)
    app.include_router(scrape.router)
    app.include_router(identity_api.router)
    app.include_router(identity_pages.router)
    app.include_router(identity_staff_pages.router)
    app.include_router(identity_doctor_pages.router)
    app.include_router(scheduling_api.router)
    app.include_router(scheduling_pages.router)
    app.include_router(scheduling_api.feeds)
    app.include_router(clinic_api.router)
    app.include_router(clinic_pages.router)
    app.include_router(queue_api.router)
    app.include_router(queue_pages.router)
    app.include_router(consultations_api.router)
    app.include_router(consultations_pages.router)
    app.include_router(calls_api.router)
    app.include_router(calls_pages.router)
    app.include_router(records_api.router)
    app.include_router(records_lists_api.router)
    app.include_router(records_pages.router)
    # Records sits below the assistant: its chart gets the drafts handed in, never imported.
    records_pages.use_drafts(app, ChartDrafts())
    app.include_router(records_lists_pages.router)
    # The queue card and the chat panel sit below records: their allergy line is handed in.
    use_allergy_lines(app, records_lists_pages.ChartSummaries())
    app.include_router(web_pages.router)
    app.include_router(web_home.router)
    if settings.api_docs_enabled:
        app.include_router(api_docs.router)
    app.include_router(realtime_api.router)
    app.include_router(realtime_api.sockets)
    app.include_router(notifications_api.router)
    app.include_router(notification_pages.inbox)
    app.include_router(web_install.router)
    app.include_router(web_install.worker)
    app.include_router(auditlog_api.router)
    app.include_router(auditlog_pages.router)
    runtime.hub.topics.register(UserTopic())
    consultation_topic = ConsultationTopic()
    runtime.hub.topics.register(consultation_topic)
    runtime.hub.track_presence(consultation_topic)
    runtime.hub.topics.relay_calls(consultation_topic.kind, CallSignals(settings, runtime.limiter))
    runtime.hub.topics.register(AvailabilityTopic(settings=settings))
    queue_topic = queue_events.QueueTopic()
    runtime.hub.topics.register(queue_topic)
    runtime.hub.track_presence(
        queue_topic,
        kind=queue_events.PRESENCE,
        counts=queue_events.doctor_counts,
        arrived=queue_events.doctor_arrived,
    )
    app.include_router(assistant_api.router)
    app.include_router(booking_assistant_api.router)
    app.include_router(analytics_api.router)
    app.include_router(analytics_pages.router)
    app.include_router(sync_api.router)
    app.include_router(assistant_pages.router)
    app.include_router(booking_assistant_pages.router)
    assistant.attach()
    if settings.is_development:
        app.include_router(notification_pages.router)
    app.mount(STATIC_PATH, VersionedStaticFiles(ASSETS), name="static")

    _install_error_handlers(app)
    # Innermost first: the body limit answers in the request's language and with the
    # security headers, like every other refusal.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.request_body_max_bytes,
        larger={
            consultations_api.UPLOAD_PATH: settings.attachment_max_bytes
            + consultations_api.MULTIPART_OVERHEAD
        },
    )
    app.add_middleware(LanguageMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(observability.MetricsMiddleware, metrics=metrics)
    # Scripts, styles, JSON and CSV travel compressed to phones on slow links. Pages do not:
    # an HTML page carries the CSRF token beside text the address can put there (a search),
    # and compressing both together leaks the token through the response's size (BREACH).
    app.add_middleware(
        GZipMiddleware,
        minimum_size=GZIP_MINIMUM_BYTES,
        compresslevel=GZIP_LEVEL,
        exclude_content_types=("text/html", "text/event-stream"),
    )
    return app


# Pages only a patient opens: signed out, they lead to the phone sign-in, not the staff one.
PATIENT_PAGES = ("/queue", "/book", "/records", "/me")


def _patients_page(path: str) -> bool:
    page = path.split("?", 1)[0]
    return any(page == prefix or page.startswith(prefix + "/") for prefix in PATIENT_PAGES)


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/health", "/metrics", "/dev/outbox.json")):
        return False
    return "text/html" in request.headers.get("accept", "")


def _error_response(
    request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    if _wants_html(request):
        error = body["error"]
        response: Response = render(
            request, "error.html", {"status": status, "error": error}, status_code=status
        )
        response.headers.update(headers or {})
        return response
    return JSONResponse(body, status_code=status, headers=headers)


# What a client is told to wait when a call needs Redis and Redis is down: the broker
# retries its connection at most this often.
REDIS_RETRY_AFTER_SECONDS = 5


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        return _error_response(request, exc.status, exc.body(), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "message": error.get("msg", ""),
                "type": error.get("type", ""),
            }
            for error in exc.errors()
        ]
        summary = "; ".join(_describe(problem) for problem in problems)
        body = error_body(
            ErrorCode.validation_error,
            _("The request is not valid: {problems}").format(problems=summary),
            {"errors": problems},
        )
        return _error_response(request, 422, body)

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(request: Request, exc: BodyTooLarge) -> Response:
        return _error_response(request, 413, too_large_body(exc.max_bytes))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = HTTP_CODES.get(exc.status_code, ErrorCode.bad_request)
        message = _("Not found.") if exc.status_code == 404 else str(exc.detail)
        return _error_response(
            request, exc.status_code, error_body(code, message), dict(exc.headers or {})
        )

    @app.exception_handler(LoginRedirect)
    async def login_redirect(request: Request, exc: LoginRedirect) -> Response:
        if _patients_page(exc.next_path):
            # A patient signs in with a code on two pages; where they were going rides along
            # in a short cookie, as the check-in QR's does.
            to_phone = RedirectResponse("/login/phone", status_code=303)
            remember_next(request, to_phone, exc.next_path)
            return to_phone
        return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)

    @app.exception_handler(PasswordChangeRedirect)
    async def password_change_redirect(request: Request, exc: PasswordChangeRedirect) -> Response:
        return RedirectResponse(f"/password?next={quote(exc.next_path)}", status_code=303)

    @app.exception_handler(RedisError)
    async def redis_down(request: Request, exc: RedisError) -> Response:
        # Sign-in, chat, booking and the queue fall back when Redis is down (docs/realtime.md,
        # "When Redis is down"); what cannot (the assistant's memory kept in Redis) asks
        # the client to come back, which is the truth, rather than answering 500.
        log.warning("request.redis_unavailable", path=request.url.path, error=repr(exc))
        body = error_body(
            ErrorCode.service_unavailable,
            _("This is briefly unavailable. Try again in a few seconds."),
            {"retry_after": REDIS_RETRY_AFTER_SECONDS},
        )
        return _error_response(request, 503, body, {"Retry-After": str(REDIS_RETRY_AFTER_SECONDS)})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("request.failed", path=request.url.path)
        errortracking.report(exc)
        body = error_body(ErrorCode.internal_error, _("Something went wrong on our side."))
        return _error_response(request, 500, body)


def _describe(problem: dict[str, Any]) -> str:
    if problem["type"] == "json_invalid":
        return _("the body is not valid JSON")
    field = ".".join(problem["loc"][1:]) or problem["loc"][0] if problem["loc"] else "body"
    return f"{field}: {problem['message']}"


class LanguageMiddleware:
    """Pick the language for this request: the switch's cookie, else the browser's wish."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            connection = HTTPConnection(scope)
            i18n.set_language(
                i18n.pick_language(
                    connection.cookies.get(web_pages.LANGUAGE_COOKIE),
                    accept_language=connection.headers.get("accept-language"),
                )
            )
        await self.app(scope, receive, send)
