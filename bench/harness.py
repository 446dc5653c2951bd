"""What every benchmark shares: a real clinicflow server on loopback, and percentiles.

Benchmarks measure the product as a client sees it, so each one migrates a database of
its own, serves it with `clinicflow serve` in a child process and drives it over HTTP.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import httpx

CLI = [sys.executable, "-m", "clinicflow"]

# A load generator is many people behind one loopback address, sending far more than a
# person would: the budgets that protect a clinic from one flooding client (`deps.Throttled`,
# the pending cap, the hourly SMS/e-mail/push caps) would refuse the load being measured.
LOAD_BUDGETS = {
    "max_pending_consultations": 1_000_000,
    **{
        f"{surface}_per_{who}_per_hour": 1_000_000
        for surface in (
            "consultation_requests",
            "holds",
            "uploads",
            "push_subscriptions",
            "notification_sends",
        )
        for who in ("user", "address")
    },
}


def environment(database_url: str, var_dir: str) -> dict[str, str]:
    return {
        **os.environ,
        "CLINICFLOW_ENV": "development",
        "DATABASE_URL": database_url,
        "CLINICFLOW_VAR_DIR": var_dir,
        **{name.upper(): str(value) for name, value in LOAD_BUDGETS.items()},
    }


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [*CLI, "migrate"], env=env, check=True, capture_output=True, cwd=env["CLINICFLOW_VAR_DIR"]
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port() -> int:
    """A loopback port nobody listens on, for a server a benchmark starts itself."""
    return _free_port()


@contextmanager
def bare_child(script: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Run `script --bare-server PORT` (a benchmark's bare twin) in a child process, as
    clinicflow runs in one; yields it once the port accepts connections."""
    process = subprocess.Popen([sys.executable, script, "--bare-server", str(port)])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def serving(env: dict[str, str], log: IO[bytes] | None = None) -> Iterator[str]:
    """Run the server until the block ends; yields its base URL once /health answers."""
    port = _free_port()
    output = log if log is not None else subprocess.DEVNULL
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        cwd=env["CLINICFLOW_VAR_DIR"],  # whatever the server writes stays in the run's var dir
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            # Still working off a backlog the load left (sockets waiting on their turn):
            # the figures are taken, nothing it would still do matters.
            server.kill()
            server.wait()
