"""Calls run over the real socket: the realtime tests' uvicorn server and clinic."""

from tests.realtime.conftest import clinic, server, settings

__all__ = ["clinic", "server", "settings"]
