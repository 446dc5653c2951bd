"""Authentication on the hot path: how fast is a signed-in request, and a sign-in?

Every API call resolves its bearer token against the database (so deactivation and
logout take effect at once); this measures what that costs. It serves the real app
with uvicorn in a child process and drives it over loopback:

    .venv/bin/python bench/auth.py [--database-url URL] [--seconds 10] [--clients 20]

Prints requests per second and latency percentiles for GET /api/me, and sign-ins per
second (argon2 at production cost) for POST /api/auth/login.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

import harness

EMAIL, PASSWORD = "bench-admin@clinic.example.com", "bench password 123"
ADMIN_ARGS = ["user", "create", "--role", "admin", "--name", "Bench", "--email", EMAIL]
ADMIN_ARGS += ["--password", PASSWORD]


async def drive(url: str, seconds: float, clients: int, request: str) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        tokens = (
            await http.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
        ).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}

        async def one_client() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                if request == "me":
                    response = await http.get("/api/me", headers=headers)
                else:
                    response = await http.post(
                        "/api/auth/login", json={"email": EMAIL, "password": PASSWORD}
                    )
                response.raise_for_status()
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*[one_client() for _ in range(clients)])
    return latencies


def report(label: str, latencies: list[float], seconds: float) -> None:
    ms = [v * 1000 for v in latencies]
    print(
        f"{label:<28} {len(ms) / seconds:8.1f} req/s   "
        f"p50 {statistics.median(ms):6.1f} ms   p99 {harness.percentile(ms, 0.99):6.1f} ms   (n={len(ms)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as var_dir:
        database_url = args.database_url or f"sqlite+aiosqlite:///{Path(var_dir) / 'bench.db'}"
        env = harness.environment(database_url, var_dir)
        harness.migrate(env)
        subprocess.run(
            [*harness.CLI, *ADMIN_ARGS],
            env=env,
            check=False,
            capture_output=True,
        )
        with harness.serving(env) as url:
            backend = database_url.split(":", 1)[0]
            print(
                f"backend {backend}, {args.clients} concurrent clients, {args.seconds:.0f} s each"
            )
            me = asyncio.run(drive(url, args.seconds, args.clients, "me"))
            report("GET /api/me (bearer)", me, args.seconds)
            logins = asyncio.run(drive(url, args.seconds, min(args.clients, 4), "login"))
            report("POST /api/auth/login", logins, args.seconds)


if __name__ == "__main__":
    main()
