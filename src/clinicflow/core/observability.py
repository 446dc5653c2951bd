"""Logs, metrics and the health check: how an operator sees the process from outside."""

from __future__ import annotations

import hmac
import logging
import sys
import time
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinicflow.config import Settings
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _

log = structlog.get_logger(__name__)


def configure_logging(settings: Settings) -> None:
    """JSON lines in production (for a log shipper), readable colours in development."""
    renderer: Any = (
        structlog.dev.ConsoleRenderer()
        if settings.is_development
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


class Metrics:
    """One registry per app, so several apps in one process (tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "clinicflow_http_requests_total",
            "HTTP requests by route template, method and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "clinicflow_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["method", "route"],
            registry=self.registry,
        )


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def record_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            # The route template, not the raw path, keeps label cardinality bounded.
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status_code)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)


router = APIRouter(tags=["operations"])


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    checks: dict[str, str] = {}
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        log.warning("health.database_failed", error=str(exc))
        checks["database"] = "error"
    if runtime.redis is None:
        checks["redis"] = "not_configured"
    else:
        try:
            await runtime.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            log.warning("health.redis_failed", error=str(exc))
            checks["redis"] = "error"
    healthy = "error" not in checks.values()
    return JSONResponse(
        {"status": "ok" if healthy else "error", "checks": checks},
        status_code=200 if healthy else 503,
    )


def _require_metrics_reader(request: Request, settings: Settings) -> None:
    """The token's bearer reads /metrics; without a token, anyone outside production.

    The numbers name every route and how busy the clinic is, which is nobody's business
    on the public internet, so production without a token has no /metrics at all."""
    token = settings.metrics_token
    if token is None:
        if settings.is_production:
            raise not_found()
        return
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise AppError(
            ErrorCode.authentication_required,
            _("Sign in to continue."),
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    _require_metrics_reader(request, request.app.state.runtime.settings)
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
