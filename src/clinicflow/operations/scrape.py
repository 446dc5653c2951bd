"""`/metrics`: who may read it, and the numbers read from the database when it is scraped.

Counters and histograms (HTTP, events published, worker jobs) are counted as things happen
(`core.observability.Metrics`). What is a state rather than an event (queue lengths and
waits, deliveries by outcome, the outbox, the worker's last beat) is read here at scrape
time, a handful of indexed aggregate queries, so every web process reports the same
clinic-wide numbers, however many there are and whichever of them sent the work.

This reads other domains' tables without a service call: it is a read-only view for the
operator, never a writer, and a service verb per gauge would only repeat these queries.
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import socket
import threading
from collections.abc import Iterable
from datetime import timedelta
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, make_wsgi_app
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core import clock
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.core.observability import Metrics
from clinicflow.i18n import gettext as _
from clinicflow.notifications.models import Delivery
from clinicflow.notifications.schemas import DeliveryStatus
from clinicflow.operations import heartbeat
from clinicflow.queue.models import QueueEntry
from clinicflow.queue.schemas import EntryStatus
from clinicflow.runtime import Runtime

router = APIRouter(tags=["operations"])

# A waiting entry older than this is a day the sweep has not closed, not today's queue.
QUEUE_HORIZON = timedelta(days=1)
DELIVERY_WINDOW = timedelta(hours=1)
OUTBOX_DUE = (DeliveryStatus.pending, DeliveryStatus.failed)


def _refusal(host: str | None, authorization: str, settings: Settings) -> int | None:
    """The status refusing a scrape (404 or 401), or None when the scraper may read: the
    token's bearer reads, from an allowed address when a list is set; without a token,
    anyone outside production.

    The numbers name every route and how busy the clinic is, which is nobody's business
    on the public internet, so production without a token has no metrics at all."""
    # An empty METRICS_TOKEN (a blank line in an env file) is no token, not an empty one.
    token = settings.metrics_token or None
    if token is None:
        return 404 if settings.is_production else None
    if settings.metrics_allowed_addresses and not _allowed(
        host, settings.metrics_allowed_addresses
    ):
        return 404
    if not hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
        return 401
    return None


def _require_metrics_reader(request: Request, settings: Settings) -> None:
    refused = _refusal(
        request.client.host if request.client else None,
        request.headers.get("authorization", ""),
        settings,
    )
    if refused == 404:
        raise not_found()
    if refused == 401:
        raise AppError(
            ErrorCode.authentication_required,
            _("Sign in to continue."),
            headers={"WWW-Authenticate": "Bearer"},
        )


def _allowed(host: str | None, networks: list[str]) -> bool:
    if host is None:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


async def _read_database(session: AsyncSession, metrics: Metrics) -> None:
    now = clock.now()
    waiting = await session.execute(
        select(QueueEntry.doctor_id, func.count(), func.min(QueueEntry.joined_at))
        .where(
            QueueEntry.status == EntryStatus.waiting, QueueEntry.joined_at >= now - QUEUE_HORIZON
        )
        .group_by(QueueEntry.doctor_id)
    )
    metrics.queue_waiting.clear()
    metrics.queue_longest_wait.clear()
    for doctor_id, count, first_joined in waiting:
        metrics.queue_waiting.labels(str(doctor_id)).set(count)
        metrics.queue_longest_wait.labels(str(doctor_id)).set((now - first_joined).total_seconds())

    deliveries = await session.execute(
        select(Delivery.channel, Delivery.status, func.count())
        .where(Delivery.created_at >= now - DELIVERY_WINDOW)
        .group_by(Delivery.channel, Delivery.status)
    )
    metrics.deliveries.clear()
    for channel, status, count in deliveries:
        metrics.deliveries.labels(str(channel), str(status)).set(count)

    due, oldest = (
        await session.execute(
            select(func.count(), func.min(Delivery.next_attempt_at)).where(
                Delivery.status.in_(OUTBOX_DUE), Delivery.next_attempt_at <= now
            )
        )
    ).one()
    metrics.outbox_due.set(due)
    metrics.outbox_oldest_due_age.set((now - oldest).total_seconds() if oldest else 0.0)

    seen = await heartbeat.last_seen(session)
    metrics.worker_last_seen_age.set((now - seen).total_seconds() if seen else math.inf)


async def refresh(runtime: Runtime) -> None:
    """Read the states the metrics report; called by each scrape."""
    metrics = runtime.metrics
    metrics.open_sockets.set(runtime.hub.open_sockets)
    pool = runtime.engine.pool
    # SQLite's pool has no fixed size; a server database's queue pool reports both.
    metrics.db_pool_in_use.set(getattr(pool, "checkedout", lambda: 0)())
    metrics.db_pool_size.set(getattr(pool, "size", lambda: 0)())
    async with runtime.transaction(write=False) as session:
        await _read_database(session, metrics)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """A scrape every few seconds is not worth a line on stderr each."""


class _MetricsServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def _guarded(app: WSGIApplication, settings: Settings) -> WSGIApplication:
    """The worker's metrics under the same rule as the web processes' `/metrics`."""

    def guarded(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        refused = _refusal(
            environ.get("REMOTE_ADDR"), environ.get("HTTP_AUTHORIZATION", ""), settings
        )
        if refused is None:
            return app(environ, start_response)
        status = "404 Not Found" if refused == 404 else "401 Unauthorized"
        headers = [("Content-Type", "text/plain; charset=utf-8")]
        if refused == 401:
            headers.append(("WWW-Authenticate", "Bearer"))
        start_response(status, headers)
        return [status.encode()]

    return guarded


def serve_worker_metrics(runtime: Runtime, port: int, address: str = "127.0.0.1") -> WSGIServer:
    """`clinicflow worker --metrics-port`: the job durations and failures of a worker that
    runs apart from the web processes. The clinic-wide gauges are the web processes' to report.

    Loopback by default (a local Prometheus); a container's Prometheus reaches it only on the
    container's network address (`--metrics-address 0.0.0.0`, as compose.yaml does), so the
    same token and allow-list as `/metrics` guard it wherever it listens."""

    class Server(_MetricsServer):
        address_family = socket.AF_INET6 if ":" in address else socket.AF_INET

    app = _guarded(make_wsgi_app(runtime.metrics.registry), runtime.settings)
    server = make_server(address, port, app, Server, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    _require_metrics_reader(request, runtime.settings)
    await refresh(runtime)
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
