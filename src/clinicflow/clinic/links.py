"""Where the links the clinic hands out (SMS, QR codes, calendar feeds, PDFs) point.

The clinic's public address when one is configured (the settings page, or
`CLINICFLOW_PUBLIC_URL`). Without one, a link made while answering a request points where
that request came to, so a laptop serving on port 8102 hands out 8102; a link made outside
a request (the worker's reminders and texts) points where this process serves
(`clinicflow serve --port`, through `Settings.served_url`), and failing that at the
address `make run` serves on by default.

The request's address is a context variable, set once where each request's transaction
begins (`routing`), so no route builds links of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Where `make run` serves when nothing else is known.
FALLBACK_URL = "http://127.0.0.1:8000"
# Binding these means every interface; none of them is an address a link can open.
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104

_request_base: ContextVar[str | None] = ContextVar("clinicflow_request_base", default=None)


def request_base() -> str | None:
    """The address the request being answered came to, if any."""
    return _request_base.get()


@contextmanager
def use_request_base(url: str) -> Iterator[None]:
    """Links made in this block, with no public address configured, point at `url`."""
    token = _request_base.set(url.rstrip("/"))
    try:
        yield
    finally:
        _request_base.reset(token)


def served_url(host: str, port: int) -> str:
    """The address `clinicflow serve --host --port` answers at, as a link: a wildcard
    bind (all interfaces) is reached on this machine at 127.0.0.1."""
    shown = "127.0.0.1" if host in WILDCARD_BINDS else host
    if ":" in shown:  # an IPv6 literal is written in brackets in an address
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"
