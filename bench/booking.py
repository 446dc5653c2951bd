"""Booking under load: how many bookings a second, beside a bare durable commit in the same run.

Serves the real app (`clinicflow serve`) in a child process against a fresh database and
drives it over loopback with `wrk` (one thread, a script that books a distinct slot per
request), once on SQLite (a temporary file) and once on PostgreSQL:

    .venv/bin/python bench/booking.py [--database-url URL] [--skip-postgres]
                                      [--seconds 10] [--clients 50] [--most 2000]
                                      [--profile PATH]

Without --database-url the PostgreSQL run creates a throwaway database on
postgresql+asyncpg://postgres@127.0.0.1:5432 and drops it afterwards; it is skipped, with a
note, when nothing answers there. On a machine with two cores or more each server is pinned
to the first core and wrk to the second, as in `bench/reads.py`.

Prints, per backend:
1. the bare twin (`bench/bare_http.py commit`: a raw ASGI server that stores one row and
   commits per request on the same database kind), which is also the load generator's
   ceiling: no figure above it can be shown;
2. bookings per second of distinct slots from `--clients` connections sharing one
   receptionist token, p50/p99, the ratio to the twin, the server's CPU time per booking
   (from /proc, all its threads) and every answer counted by status code;
3. the median and p99 latency of GET /api/doctors/{id}/slots over 31 days for a doctor
   with 500 booked appointments, and the number of free slots it returned.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog

import harness
import reads

PASSWORD = "bench password 123"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"
SLOT_MINUTES = 15
WORKING_DAY = [["00:00", "23:45"]]  # 95 fifteen-minute slots a day, in UTC
SLOTS_PER_DAY = 95
RANGE_DAYS = 31
PREFILLED = 500  # appointments of the doctor whose free slots are timed
SLOT_REQUESTS = 200
# Each patient may hold this many upcoming appointments in the run (the clinic's default is
# 3): the limit is still checked on every booking, but a run of thousands of bookings then
# needs hundreds of patients, not thousands, seeded before it.
PER_PATIENT = 30


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

    # Each account's audit line would bury the figures.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
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


async def prepare(url: str, seeded: Seeded) -> tuple[str, datetime, bool]:
    """Both doctors' weeks, then the timed doctor's PREFILLED bookings (which also warm the
    server up); returns the receptionist's token, the first day and whether all was booked."""
    week = {
        "timezone": "UTC",
        "slot_minutes": SLOT_MINUTES,
        "weekly": {day: WORKING_DAY for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        "exceptions": [],
    }
    tomorrow = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow += timedelta(days=1)
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        admin = await login(http, seeded.admin_email)
        desk = await login(http, seeded.receptionist_email)
        for doctor in seeded.doctors:
            response = await http.put(
                f"/api/doctors/{doctor}/availability", json=week, headers=admin
            )
            response.raise_for_status()
        total = RANGE_DAYS * SLOTS_PER_DAY
        step = max(1, total // PREFILLED)
        _s, _l, codes, refusals = await book_all(
            http,
            desk,
            seeded.doctors[1],
            slot_starts(tomorrow, PREFILLED, step),
            seeded.patients[-math.ceil(PREFILLED / PER_PATIENT) :],
            10,
        )
    print(f"{'  prefill for the slots test':<34} {codes[201]:8d} booked")
    return desk["Authorization"].split()[1], tomorrow, report_codes(codes, refusals, expected=201)


async def free_slots(url: str, doctor: str, first_day: datetime) -> bool:
    """A month of free slots for a doctor with PREFILLED appointments in it, sequentially."""
    params = {
        "from": first_day.isoformat(),
        "to": (first_day + timedelta(days=RANGE_DAYS)).isoformat(),
    }
    timings: list[float] = []
    counts: Counter[int] = Counter()
    slot_counts: set[int] = set()
    size = 0
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        for _ in range(SLOT_REQUESTS):
            began = time.perf_counter()
            response = await http.get(f"/api/doctors/{doctor}/slots", params=params)
            timings.append(time.perf_counter() - began)
            counts[response.status_code] += 1
            if response.status_code == 200:
                slot_counts.add(len(response.json()["slots"]))
                size = len(response.content)
    ms = [v * 1000 for v in timings]
    found = ", ".join(str(n) for n in sorted(slot_counts)) or "none"
    print(
        f"{'GET /slots (31 days, 500 busy)':<34} {len(ms) / (sum(timings)):8.1f} req/s      "
        f"p50 {statistics.median(ms):6.1f} ms   p99 {harness.percentile(ms, 0.99):6.1f} ms   "
        f"(n={len(ms)}, sequential)"
    )
    print(
        f"{'  free slots returned':<34} {found:>8}   "
        f"(expected {RANGE_DAYS * SLOTS_PER_DAY - PREFILLED}; {size / 1024:.0f} KiB a response)"
    )
    return report_codes(counts, [], expected=200)


def report_codes(codes: Counter[int], refusals: list[str], *, expected: int) -> bool:
    others = {code: n for code, n in sorted(codes.items()) if code != expected}
    if not others:
        return True
    print(f"{'  UNEXPECTED answers':<30} " + ", ".join(f"{n} x {c}" for c, n in others.items()))
    for line in refusals:
        print(f"    {line[:300]}")
    return False


# --- the load generator: wrk with a script -----------------------------------------------------

# One wrk thread on its own core reaches about 12,000 one-row commits a second here, where
# one shared httpx client topped out near 190 requests a second: the generator must not be
# what a figure shows. Each request books the next slot of the all-day week for the next
# patient in turn, for the run's `--seconds` (wrk runs for a time, not a count).
WRK_SCRIPT = """
local doctor, first = "%(doctor)s", %(first)d
local patients = {%(patients)s}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
local threads = {}
function setup(thread) table.insert(threads, thread) end
local index = 0
codes, sample = {}, ""
function request()
  local i = index
  index = index + 1
  local at = first + math.floor(i / %(per_day)d) * 86400 + (i %% %(per_day)d) * %(step)d
  local body = string.format(
    '{"doctor_id":"%%s","starts_at":"%%s","mode":"%%s","reason":"bench","patient_id":"%%s"}',
    doctor, os.date("!%%Y-%%m-%%dT%%H:%%M:%%S+00:00", at),
    (i %% 2 == 1) and "in_person" or "online", patients[(i %% #patients) + 1])
  return wrk.format(nil, nil, nil, body)
end
function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
  if status ~= 201 and sample == "" then sample = body end
end
function done(summary, latency, requests)
  local t = threads[1]
  local seen = {}
  for status, n in pairs(t:get("codes")) do table.insert(seen, status .. "=" .. n) end
  io.write(string.format("RESULT %%d %%d %%d %%d %%s\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), table.concat(seen, ",")))
  io.write("SAMPLE " .. string.sub(t:get("sample"), 1, 300) .. "\\n")
end
"""


@dataclass(frozen=True)
class Figure:
    label: str
    per_second: float
    p50_ms: float
    p99_ms: float
    codes: dict[int, int]
    cpu_us: float  # the server's CPU time (all threads) per answer
    sample: str


def drive(
    label: str,
    url: str,
    *,
    server: int,
    script: str,
    connections: int,
    core: int | None,
    seconds: float,
    profile: str | None = None,
) -> Figure:
    """Run wrk with `script` against `url` for `seconds`; with `profile`, py-spy records the
    server meanwhile into that file (raw format; the figures of such a run are not the ones
    to compare: the sampler shares the machine)."""
    command = [*reads.pinned(core), "wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s"]
    spy = None
    if profile:
        spy_command = [str(Path(sys.executable).with_name("py-spy")), "record", "-p", str(server)]
        spy_command += ["--threads", "--gil", "-f", "raw", "-o", profile, "-d"]
        spy_command += [str(max(1, int(seconds) - 1)), "--nonblocking"]
        spy = subprocess.Popen(spy_command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu_before = reads.cpu_seconds(server)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        output = subprocess.run(
            [*command, "-s", lua.name, url], check=True, capture_output=True, text=True
        ).stdout
    cpu = reads.cpu_seconds(server) - cpu_before
    if spy is not None:
        spy.wait()
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    requests, micros, p50, p99, seen = [*line.split(), ""][1:6]
    codes = {int(k): int(v) for k, v in (pair.split("=") for pair in seen.split(",") if pair)}
    sample = next((line[7:] for line in output.splitlines() if line.startswith("SAMPLE ")), "")
    answered = int(requests)
    return Figure(
        label,
        answered / (int(micros) / 1e6),
        int(p50) / 1000,
        int(p99) / 1000,
        codes,
        cpu / answered * 1e6,
        sample,
    )


def script(doctor: str, first_day: datetime, patients: list[str], token: str) -> str:
    return WRK_SCRIPT % {
        "doctor": doctor,
        "first": int(first_day.timestamp()),
        "patients": ",".join(f'"{p}"' for p in patients),
        "token": token,
        "per_day": SLOTS_PER_DAY,
        "step": SLOT_MINUTES * 60,
    }


# --- one backend -----------------------------------------------------------------------------


def run_backend(
    database_url: str, seconds: float, clients: int, most: float, profile: str | None
) -> None:
    backend = database_url.split(":", 1)[0]
    booking_patients = math.ceil(most * seconds / PER_PATIENT)
    patients = booking_patients + math.ceil(PREFILLED / PER_PATIENT)
    server_core, load_core = reads.cores()
    print(
        f"\nbackend {backend}, {clients} connections (wrk), {seconds:.0f} s each, "
        f"{patients} patients, server on core {server_core}, wrk on core {load_core}"
    )
    with tempfile.TemporaryDirectory() as var_dir:
        env = harness.environment(database_url, var_dir)
        env["MAX_FUTURE_APPOINTMENTS"] = str(PER_PATIENT)
        harness.migrate(env)
        began = time.perf_counter()
        seeded = asyncio.run(seed(database_url, var_dir, patients))
        print(f"{'  seeded accounts':<34} {time.perf_counter() - began:8.1f} s")
        tomorrow = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        load: dict[str, Any] = {"connections": clients, "core": load_core, "seconds": seconds}
        # The twin stores into its own table of the same database, one row per request.
        with reads.bare_server("commit", server_core, database_url) as (url, pid):
            bare = drive(
                "bare: one-row durable commit",
                url + "/",
                server=pid,
                script=script("bare", tomorrow, ["bare"], "bare"),
                **load,
            )
        with reads.clinicflow_server(env, server_core) as (url, pid):
            token, first_day, clean = asyncio.run(prepare(url, seeded))
            mine = seeded.patients[:booking_patients]
            app = drive(
                "POST /api/appointments",
                url + "/api/appointments",
                server=pid,
                script=script(seeded.doctors[0], first_day, mine, token),
                profile=f"{profile}.{backend.split('+')[0]}.raw" if profile else None,
                **load,
            )
            clean &= asyncio.run(free_slots(url, seeded.doctors[1], first_day))
    print(
        f"  {'target':<32} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x twin':>7} "
        f"{'CPU us/op':>10}  answers"
    )
    for figure in (bare, app):
        answers = ", ".join(f"{n} x {code}" for code, n in sorted(figure.codes.items()))
        print(
            f"  {figure.label:<32} {figure.per_second:8.0f} {figure.p50_ms:8.1f} "
            f"{figure.p99_ms:8.1f} {figure.per_second / bare.per_second:7.3f} "
            f"{figure.cpu_us:10.0f}  {answers}"
        )
    if set(app.codes) != {201} or not clean:
        print(f"  UNEXPECTED answers; the first refusal: {app.sample}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL to use as is")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--most", type=float, default=2000, help="the most bookings a second to seed patients for"
    )
    parser.add_argument(
        "--profile", default=None, help="py-spy the server while it books, into PATH.<db>.raw"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian: apt-get install wrk)")
    measure = (args.seconds, args.clients, args.most, args.profile)

    with tempfile.TemporaryDirectory() as scratch:
        run_backend(f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}", *measure)
    if args.database_url:
        run_backend(args.database_url, *measure)
    elif not args.skip_postgres:
        name = asyncio.run(create_database(DEFAULT_POSTGRES))
        if name is None:
            return
        try:
            run_backend(f"{DEFAULT_POSTGRES}/{name}", *measure)
        finally:
            asyncio.run(drop_database(DEFAULT_POSTGRES, name))


if __name__ == "__main__":
    main()
