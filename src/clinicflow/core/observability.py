"""Logs, metrics and the health check: how an operator sees the process from outside.

`/metrics` itself, and the numbers read when it is scraped, are in `operations.scrape`."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinicflow.config import Settings

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
        # Counted where they happen, in this process.
        self.events_published = Counter(
            "clinicflow_events_published_total",
            "Realtime events this process published, by event type.",
            ["type"],
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "clinicflow_worker_job_duration_seconds",
            "How long each run of a periodic job took.",
            ["job"],
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300),
            registry=self.registry,
        )
        self.job_failures = Counter(
            "clinicflow_worker_job_failures_total",
            "Runs of a periodic job that raised.",
            ["job"],
            registry=self.registry,
        )
        # Read when scraped (operations.probes): the database's view, the same from every
        # process, and this process's sockets and connection pool.
        self.open_sockets = Gauge(
            "clinicflow_open_sockets",
            "Realtime sockets open on this process.",
            registry=self.registry,
        )
        self.queue_waiting = Gauge(
            "clinicflow_queue_waiting",
            "Patients waiting in a doctor's queue (joined in the last day).",
            ["doctor_id"],
            registry=self.registry,
        )
        self.queue_longest_wait = Gauge(
            "clinicflow_queue_longest_wait_seconds",
            "How long the longest-waiting patient of a doctor's queue has waited.",
            ["doctor_id"],
            registry=self.registry,
        )
        self.deliveries = Gauge(
            "clinicflow_deliveries_last_hour",
            "Deliveries created in the last hour, by channel and where they stand.",
            ["channel", "status"],
            registry=self.registry,
        )
        self.outbox_due = Gauge(
            "clinicflow_outbox_due",
            "Deliveries due to be sent now (pending, attempt time passed).",
            registry=self.registry,
        )
        self.outbox_oldest_due_age = Gauge(
            "clinicflow_outbox_oldest_due_age_seconds",
            "How long the oldest due delivery has been waiting for the dispatcher.",
            registry=self.registry,
        )
        self.worker_last_seen_age = Gauge(
            "clinicflow_worker_last_seen_age_seconds",
            "Seconds since any worker last beat (very large when none ever did).",
            registry=self.registry,
        )
        self.db_pool_in_use = Gauge(
            "clinicflow_db_pool_connections_in_use",
            "Database connections this process has checked out.",
            registry=self.registry,
        )
        self.db_pool_size = Gauge(
            "clinicflow_db_pool_size",
            "Database connections this process's pool keeps open.",
            registry=self.registry,
        )
        self.db_slow_queries = Counter(
            "clinicflow_db_slow_queries_total",
            "Statements slower than SLOW_QUERY_SECONDS, by their first word (SELECT, UPDATE…).",
            ["operation"],
            registry=self.registry,
        )


# Long enough to recognise the statement in a log line, short enough for any shipper.
SLOW_STATEMENT_CHARS = 300


def watch_slow_queries(engine: AsyncEngine, metrics: Metrics, threshold_seconds: float) -> None:
    """Time every statement on `engine` and report those over the threshold.

    Measured in the driver's cursor events, so both databases are covered; on PostgreSQL,
    `pg_stat_statements` (docs/deploy.md) adds the server's own view. Two clock reads a
    statement are all it costs below the threshold.
    """
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _started(connection: Connection, cursor: Any, statement: str, *args: Any) -> None:
        # One statement at a time runs on a connection, so one slot is enough; a statement
        # that fails leaves it for the next one to overwrite.
        connection.info["clinicflow_started"] = time.perf_counter()

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _finished(connection: Connection, cursor: Any, statement: str, *args: Any) -> None:
        elapsed = time.perf_counter() - connection.info["clinicflow_started"]
        if elapsed < threshold_seconds:
            return
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
        metrics.db_slow_queries.labels(operation).inc()
        log.warning(
            "db.slow_query",
            seconds=round(elapsed, 3),
            operation=operation,
            statement=" ".join(statement.split())[:SLOW_STATEMENT_CHARS],
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
