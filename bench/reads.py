"""Authenticated API reads under load, beside a bare ASGI server measured in the same run.

    .venv/bin/python bench/reads.py [--database-url URL] [--seconds 10] [--connections 64]

Serves the real app (`clinicflow serve`, the demo's doctors and patients, one admin) and,
one after the other, two bare twins under the same uvicorn: a raw ASGI app that answers a
fixed JSON body, and a plain FastAPI GET that returns a dict. `wrk` drives each with
`--connections` keep-alive connections. On a machine with two cores or more each server is
pinned to the first core and wrk to the second, so the server's figure is one core's.

Prints requests per second, p50 and p99 for every target and its ratio to the raw ASGI
twin. The raw twin is also the load generator's ceiling: no figure above it can be shown.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

import harness

EMAIL, PASSWORD = "bench-reads@clinic.example.com", "bench password 123"
ADMIN_ARGS = ["user", "create", "--role", "admin", "--name", "Bench", "--email", EMAIL]
ADMIN_ARGS += ["--password", PASSWORD]
BARE_MODULE = Path(__file__).with_name("bare_http.py")


@dataclass(frozen=True)
class Figure:
    label: str
    per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    # The server's own CPU time per answered request (all its threads): unlike the rate, it
    # hardly moves when something else shares the machine.
    cpu_us: float


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pinned(core: int | None) -> list[str]:
    """`taskset -c core` where the machine has the cores and the tool, else nothing."""
    if core is None or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", str(core)]


def cores() -> tuple[int | None, int | None]:
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return available[0], available[1]


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNIT[unit]


def wrk(
    label: str,
    url: str,
    *,
    server: int,
    seconds: float,
    connections: int,
    core: int | None,
    token: str = "",
) -> Figure:
    headers = ["-H", f"Authorization: Bearer {token}"] if token else []
    command = [*pinned(core), "wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--latency"]
    cpu_before = cpu_seconds(server)
    output = subprocess.run(
        [*command, *headers, url], check=True, capture_output=True, text=True
    ).stdout
    cpu = cpu_seconds(server) - cpu_before
    answered = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _milliseconds(re.search(r"50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _milliseconds(re.search(r"99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return Figure(label, rate, p50, p99, int(bad.group(1)) if bad else 0, cpu / answered * 1e6)


def wait_until_up(url: str) -> None:
    for _ in range(200):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"nothing answered at {url}")


@contextmanager
def _serving(
    command: list[str], ready_path: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """Run a server on a free port (`{port}` in `command`); yields its URL and process id
    once `ready_path` answers, and stops it after the block."""
    port = harness.free_port()
    process = subprocess.Popen(
        [part.replace("{port}", str(port)) for part in command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=env["CLINICFLOW_VAR_DIR"] if env else None,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url + ready_path)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bare_server(
    app: str, core: int | None, *arguments: str
) -> AbstractContextManager[tuple[str, int]]:
    """A twin served by uvicorn with the options `clinicflow serve` gives it."""
    command = [*pinned(core), sys.executable, str(BARE_MODULE), app, "{port}", *arguments]
    return _serving(command, "/")


def clinicflow_server(
    env: dict[str, str], core: int | None
) -> AbstractContextManager[tuple[str, int]]:
    command = [*pinned(core), *harness.CLI, "serve", "--port", "{port}"]
    return _serving(command, "/health/live", env)


def report(figures: list[Figure], bare: Figure) -> None:
    print(
        f"  {'target':<30} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x raw':>7} "
        f"{'CPU us/req':>10} {'non-2xx':>8}"
    )
    for figure in [bare, *figures]:
        print(
            f"  {figure.label:<30} {figure.per_second:8.0f} {figure.p50_ms:8.2f} "
            f"{figure.p99_ms:8.2f} {figure.per_second / bare.per_second:7.3f} "
            f"{figure.cpu_us:10.0f} {figure.errors:8d}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian: apt-get install wrk)")
    server_core, load_core = cores()
    measure: dict[str, Any] = {
        "seconds": args.seconds,
        "connections": args.connections,
        "core": load_core,
    }

    with tempfile.TemporaryDirectory() as var_dir:
        database_url = args.database_url or f"sqlite+aiosqlite:///{Path(var_dir) / 'bench.db'}"
        env = harness.environment(database_url, var_dir)
        harness.migrate(env)
        subprocess.run([*harness.CLI, "demo"], env=env, check=True, capture_output=True)
        subprocess.run([*harness.CLI, *ADMIN_ARGS], env=env, check=True, capture_output=True)
        figures: list[Figure] = []
        with bare_server("raw", server_core) as (url, pid):
            bare = wrk("bare: raw ASGI", url + "/", server=pid, **measure)
        with bare_server("fastapi", server_core) as (url, pid):
            figures.append(wrk("bare: plain FastAPI GET", url + "/", server=pid, **measure))
        with clinicflow_server(env, server_core) as (url, pid):
            measure["server"] = pid
            login = {"email": EMAIL, "password": PASSWORD}
            token = httpx.post(url + "/api/auth/login", json=login).json()["access_token"]
            figures.append(wrk("GET /health/live", url + "/health/live", **measure))
            figures.append(wrk("GET /api/me (bearer)", url + "/api/me", token=token, **measure))
            figures.append(
                wrk("GET /api/doctors (bearer)", url + "/api/doctors", token=token, **measure)
            )
        print(
            f"backend {database_url.split(':', 1)[0]}, {args.connections} connections, "
            f"{args.seconds:.0f} s each, server on core {server_core}, wrk on core {load_core}"
        )
        report(figures, bare)


if __name__ == "__main__":
    main()
