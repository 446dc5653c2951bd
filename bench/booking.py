"""Booking under load: how many bookings a second, and how fast is a month of free slots?

Serves the real app with uvicorn in a child process against a fresh database and drives it
over loopback, once on SQLite (a temporary file) and once on PostgreSQL:

    .venv/bin/python bench/booking.py [--database-url URL] [--skip-postgres]
                                      [--bookings 2000] [--clients 50]

Without --database-url the PostgreSQL run creates a throwaway database on
postgresql+asyncpg://postgres@127.0.0.1:5432 and drops it afterwards; it is skipped, with a
note, when nothing answers there.

Prints, per backend:
1. bookings per second for N bookings of distinct slots from concurrent clients sharing one
   receptionist token, with latency percentiles and every answer counted by status code;
2. the median and p99 latency of GET /api/doctors/{id}/slots over 31 days for a doctor
   with 500 booked appointments, and the number of free slots it returned.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import secrets
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

import harness

PASSWORD = "bench password 123"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"
SLOT_MINUTES = 15
WORKING_DAY = [["00:00", "23:45"]]  # 95 fifteen-minute slots a day, in UTC
SLOTS_PER_DAY = 95
RANGE_DAYS = 31
PREFILLED = 500  # appointments of the doctor whose free slots are timed
SLOT_REQUESTS = 200
PER_PATIENT = 3  # the default limit of future appointments


def slot_starts(first_day: datetime, count: int, step: int = 1) -> list[datetime]:
    """`count` slot starts of the all-day week, every `step`-th one, from `first_day` 00:00."""
    starts = []
    index = 0
    while len(starts) < count:
        day, slot = divmod(index, SLOTS_PER_DAY)
        starts.append(first_day + timedelta(days=day, minutes=slot * SLOT_MINUTES))
        index += step
    return starts


# --- the database ----------------------------------------------------------------------------


@dataclass
class Seeded:
    admin_email: str
    receptionist_email: str
    doctors: list[str]
    patients: list[str]


async def seed(database_url: str, var_dir: str, patients: int) -> Seeded:
    """Accounts straight through the service layer: the CLI takes a second or two per user."""
    from clinicflow.config import Settings
    from clinicflow.identity import service as identity
    from clinicflow.identity.schemas import Role
    from clinicflow.runtime import build_runtime

    tag = secrets.token_hex(4)
    runtime = build_runtime(
        Settings(env="development", database_url=database_url, var_dir=Path(var_dir))
    )
    try:
        async with runtime.transaction() as session:
            admin = f"bench-admin-{tag}@clinic.example.com"
            receptionist = f"bench-desk-{tag}@clinic.example.com"
            for role, email in ((Role.admin, admin), (Role.receptionist, receptionist)):
                await identity.create_user(
                    session=session,
                    actor=None,
                    role=role,
                    name=f"Bench {role.value}",
                    email=email,
                    password=PASSWORD,
                )
            doctors = [
                await identity.create_user(
                    session=session,
                    actor=None,
                    role=Role.doctor,
                    name=f"Dr Bench {n}",
                    email=f"bench-doctor-{n}-{tag}@clinic.example.com",
                    password=PASSWORD,
                    profile={"timezone": "UTC", "consultation_minutes": SLOT_MINUTES},
                )
                for n in range(2)
            ]
            prefix = 1_000_000 + secrets.randbelow(8_000_000)  # +254 and 12 digits: E.164
            people = [
                await identity.create_user(
                    session=session,
                    actor=None,
                    role=Role.patient,
                    name=f"Patient {n}",
                    phone=f"+254{prefix}{n:05d}",
                )
                for n in range(patients)
            ]
        return Seeded(
            admin_email=admin,
            receptionist_email=receptionist,
            doctors=[str(d.id) for d in doctors],
            patients=[str(p.id) for p in people],
        )
    finally:
        await runtime.close()


async def create_database(server_url: str) -> str | None:
    """A fresh `clinicflow_bench_<random>` on the server, or None when it does not answer."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"clinicflow_bench_{secrets.token_hex(4)}"
    engine = create_async_engine(f"{server_url}/test", isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # refused, unknown host, no such role: all mean "not here"
        print(f"PostgreSQL at {server_url} skipped: {type(exc).__name__}: {exc}".splitlines()[0])
        return None
    finally:
        await engine.dispose()
    return name


async def drop_database(server_url: str, name: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(f"{server_url}/test", isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


# --- the load --------------------------------------------------------------------------------


async def login(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def book_all(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    doctor: str,
    starts: list[datetime],
    patients: list[str],
    clients: int,
) -> tuple[float, list[float], Counter[int], list[str]]:
    """Book every start, `clients` at a time; (seconds, latencies, codes, sample refusals)."""
    queue = list(enumerate(starts))
    queue.reverse()
    latencies: list[float] = []
    codes: Counter[int] = Counter()
    refusals: list[str] = []
    per_patient = math.ceil(len(starts) / PER_PATIENT)

    async def one_client() -> None:
        while queue:
            index, starts_at = queue.pop()
            body = {
                "doctor_id": doctor,
                "starts_at": starts_at.isoformat(),
                "mode": "in_person" if index % 2 else "online",
                "reason": "bench",
                "patient_id": patients[index % per_patient],
            }
            began = time.perf_counter()
            response = await http.post("/api/appointments", json=body, headers=headers)
            latencies.append(time.perf_counter() - began)
            codes[response.status_code] += 1
            if response.status_code != 201 and len(refusals) < 5:
                refusals.append(f"{response.status_code} {starts_at.isoformat()}: {response.text}")

    began = time.perf_counter()
    await asyncio.gather(*[one_client() for _ in range(clients)])
    return time.perf_counter() - began, latencies, codes, refusals


async def run_load(url: str, seeded: Seeded, bookings: int, clients: int) -> bool:
    """Both measurements against a served app; False when some answer was not the expected one."""
    tomorrow = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow += timedelta(days=1)
    week = {
        "timezone": "UTC",
        "slot_minutes": SLOT_MINUTES,
        "weekly": {day: WORKING_DAY for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        "exceptions": [],
    }
    clean = True
    async with httpx.AsyncClient(
        base_url=url, timeout=120, limits=httpx.Limits(max_connections=clients + 5)
    ) as http:
        admin = await login(http, seeded.admin_email)
        desk = await login(http, seeded.receptionist_email)
        for doctor in seeded.doctors:
            response = await http.put(
                f"/api/doctors/{doctor}/availability", json=week, headers=admin
            )
            response.raise_for_status()

        # 1. Bookings of distinct slots, all at once.
        busy_doctor, timed_doctor = seeded.doctors
        first_patients = seeded.patients[: math.ceil(bookings / PER_PATIENT)]
        seconds, latencies, codes, refusals = await book_all(
            http, desk, busy_doctor, slot_starts(tomorrow, bookings), first_patients, clients
        )
        ms = [v * 1000 for v in latencies]
        print(
            f"{'POST /api/appointments':<30} {codes[201] / seconds:8.1f} bookings/s   "
            f"p50 {statistics.median(ms):6.1f} ms   p99 {harness.percentile(ms, 0.99):6.1f} ms   "
            f"({codes[201]}/{bookings} booked in {seconds:.1f} s)"
        )
        clean &= report_codes(codes, refusals, expected=201)

        # 2. A month of free slots for a doctor with PREFILLED appointments in it.
        total = RANGE_DAYS * SLOTS_PER_DAY
        step = max(1, total // PREFILLED)
        others = seeded.patients[len(first_patients) :]
        _s, _l, codes, refusals = await book_all(
            http, desk, timed_doctor, slot_starts(tomorrow, PREFILLED, step), others, clients
        )
        print(f"{'  prefill for the slots test':<30} {codes[201]:8d} booked")
        clean &= report_codes(codes, refusals, expected=201)

        params = {
            "from": tomorrow.isoformat(),
            "to": (tomorrow + timedelta(days=RANGE_DAYS)).isoformat(),
        }
        timings: list[float] = []
        counts: Counter[int] = Counter()
        slot_counts: set[int] = set()
        size = 0
        for _ in range(SLOT_REQUESTS):
            began = time.perf_counter()
            response = await http.get(f"/api/doctors/{timed_doctor}/slots", params=params)
            timings.append(time.perf_counter() - began)
            counts[response.status_code] += 1
            if response.status_code == 200:
                slot_counts.add(len(response.json()["slots"]))
                size = len(response.content)
        ms = [v * 1000 for v in timings]
        found = ", ".join(str(n) for n in sorted(slot_counts)) or "none"
        print(
            f"{'GET /slots (31 days, 500 busy)':<30} {len(ms) / (sum(timings)):8.1f} req/s      "
            f"p50 {statistics.median(ms):6.1f} ms   p99 {harness.percentile(ms, 0.99):6.1f} ms   "
            f"(n={len(ms)}, sequential)"
        )
        print(
            f"{'  free slots returned':<30} {found:>8}   "
            f"(expected {total - codes[201]}; {size / 1024:.0f} KiB a response)"
        )
        clean &= report_codes(counts, [], expected=200)
    return clean


def report_codes(codes: Counter[int], refusals: list[str], *, expected: int) -> bool:
    others = {code: n for code, n in sorted(codes.items()) if code != expected}
    if not others:
        return True
    print(f"{'  UNEXPECTED answers':<30} " + ", ".join(f"{n} x {c}" for c, n in others.items()))
    for line in refusals:
        print(f"    {line[:300]}")
    return False


# --- one backend -----------------------------------------------------------------------------


def run_backend(database_url: str, bookings: int, clients: int) -> None:
    backend = database_url.split(":", 1)[0]
    patients = math.ceil(bookings / PER_PATIENT) + math.ceil(PREFILLED / PER_PATIENT)
    print(
        f"\nbackend {backend}, {bookings} bookings from {clients} concurrent clients, "
        f"{patients} patients"
    )
    with tempfile.TemporaryDirectory() as var_dir:
        env = harness.environment(database_url, var_dir)
        harness.migrate(env)
        began = time.perf_counter()
        seeded = asyncio.run(seed(database_url, var_dir, patients))
        print(f"{'  seeded accounts':<30} {time.perf_counter() - began:8.1f} s")
        log_path = Path(var_dir) / "server.log"
        with log_path.open("wb") as log, harness.serving(env, log) as url:
            clean = asyncio.run(run_load(url, seeded, bookings, clients))
        if not clean:
            lines = log_path.read_text(errors="replace").splitlines()
            start = next((n for n, line in enumerate(lines) if "Traceback" in line), None)
            shown = lines[start : start + 40] if start is not None else lines[-20:]
            print("  server log:")
            for line in shown:
                print(f"    {line[:300]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL to use as is")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        run_backend(
            f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}", args.bookings, args.clients
        )
    if args.database_url:
        run_backend(args.database_url, args.bookings, args.clients)
    elif not args.skip_postgres:
        name = asyncio.run(create_database(DEFAULT_POSTGRES))
        if name is None:
            return
        try:
            run_backend(f"{DEFAULT_POSTGRES}/{name}", args.bookings, args.clients)
        finally:
            asyncio.run(drop_database(DEFAULT_POSTGRES, name))


if __name__ == "__main__":
    main()
