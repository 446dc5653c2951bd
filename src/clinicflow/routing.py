"""Routes whose whole handling is one database transaction.

The transaction is opened before the endpoint runs and committed before the response is
returned to the server, so a client never receives a success for data that failed to
commit, and after-commit side effects (messages, events) follow a stored change only.
Reads (GET, HEAD, OPTIONS) run as read transactions; a read route that must write
(an audit row on a record read, say) is marked with `@writes`.

What the request publishes reaches this process's sockets once the response has been
written (`realtime.fanout`): an answer never waits behind its own fan-out.

The clinic is read once at the start (as the process holds it, `clinic.current_held`), for
the whole request: phone numbers in the body are
read in its region (`clinic.phones`), links made without a configured public address point
where the request came to (`clinic.links`), and the handler's `Clinic` dependency reuses it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.background import BackgroundTask

from clinicflow.clinic import links, phones
from clinicflow.clinic import service as clinic
from clinicflow.core import audit
from clinicflow.realtime import fanout
from clinicflow.runtime import Runtime

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITES_ATTRIBUTE = "__clinicflow_writes__"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def writes(endpoint: Endpoint) -> Endpoint:
    """Run this GET in a write transaction: reading it leaves a record (an audit row).

    On SQLite a write inside a read transaction would not queue behind the other
    writers and could fail with "database is locked"; place it under the route decorator.
    """
    setattr(endpoint, WRITES_ATTRIBUTE, True)
    return endpoint


class TransactionalRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle_in_transaction(request: Request) -> Response:
            runtime: Runtime = request.app.state.runtime
            write = request.method not in READ_ONLY_METHODS or getattr(
                self.endpoint, WRITES_ATTRIBUTE, False
            )
            with fanout.holding() as hold:
                try:
                    async with runtime.transaction(write=write) as session:
                        request.state.db = session
                        audit.bind_address(session, request.client.host if request.client else None)
                        profile = await clinic.current_held(session=session)
                        request.state.clinic = profile
                        with (
                            phones.use_region(profile.phone_region),
                            links.use_request_base(str(request.base_url)),
                        ):
                            response = await handler(request)
                except BaseException:
                    hold.release()
                    raise
            if hold.pending:
                response.background = _release_first(hold, response.background)
            return response

        return handle_in_transaction


def _release_first(hold: fanout.Hold, background: BackgroundTask | None) -> BackgroundTask:
    """A response's background work that first lets the request's events go to this
    process's sockets: Starlette runs it once the body is written."""

    async def release_then() -> None:
        hold.release()
        if background is not None:
            await background()

    return BackgroundTask(release_then)
