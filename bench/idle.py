"""Idle cost: how much of a core does a server with nothing to do use?

    .venv/bin/python bench/idle.py [--database-url URL] [--skip-postgres] [--seconds 30]

Serves `clinicflow serve` on a fresh database with no demo data (the embedded worker on,
as `make run` has it), waits `--settle` seconds for start-up to end, then reads the
server's CPU time from /proc over `--seconds`: every thread, the worker's polling
included. Beside it, in the same run, a bare uvicorn serving a raw ASGI app
(`bench/bare_http.py`) measured the same way: what uvicorn itself costs doing nothing.

SQLite (a temporary file) always; PostgreSQL (a throwaway database on
postgresql+asyncpg://postgres@127.0.0.1:5432, or --database-url; with --redis-url, Redis
as the broker) unless --skip-postgres.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path

import harness
from booking import DEFAULT_POSTGRES, create_database, drop_database
from reads import bare_server, clinicflow_server, cpu_seconds

TARGET_PERCENT = 2.0


def idle_percent(pid: int, settle: float, seconds: float) -> float:
    """The process's CPU over `seconds` after `settle`, as a percentage of one core."""
    time.sleep(settle)
    cpu, began = cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    return (cpu_seconds(pid) - cpu) / (time.perf_counter() - began) * 100


def measure(
    label: str, server: AbstractContextManager[tuple[str, int]], settle: float, seconds: float
) -> float:
    with server as (_url, pid):
        percent = idle_percent(pid, settle, seconds)
    print(f"  {label:<44} {percent:6.2f} % of a core  (target < {TARGET_PERCENT:.0f} %)")
    return percent


def run_backend(database_url: str, settle: float, seconds: float, redis_url: str = "") -> None:
    backend = database_url.split(":", 1)[0] + (" + redis" if redis_url else "")
    print(f"\nbackend {backend}, {seconds:.0f} s after {settle:.0f} s")
    with tempfile.TemporaryDirectory() as var_dir:
        env = harness.environment(database_url, var_dir)
        env.pop("REDIS_URL", None)
        if redis_url:
            env["REDIS_URL"] = redis_url
        harness.migrate(env)
        measure("clinicflow serve (embedded worker)", clinicflow_server(env, None), settle, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL to use as is")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--redis-url", default="", help="Redis for the PostgreSQL run")
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    measure("bare: uvicorn, raw ASGI app", bare_server("raw", None), args.settle, args.seconds)
    with tempfile.TemporaryDirectory() as scratch:
        run_backend(f"sqlite+aiosqlite:///{Path(scratch) / 'idle.db'}", args.settle, args.seconds)
    if args.database_url:
        run_backend(args.database_url, args.settle, args.seconds, args.redis_url)
    elif not args.skip_postgres:
        name = asyncio.run(create_database(DEFAULT_POSTGRES))
        if name is None:
            return
        try:
            run_backend(f"{DEFAULT_POSTGRES}/{name}", args.settle, args.seconds, args.redis_url)
        finally:
            asyncio.run(drop_database(DEFAULT_POSTGRES, name))


if __name__ == "__main__":
    main()
