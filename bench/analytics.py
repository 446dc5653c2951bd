"""Analytics: how long does the summary of a month and of a year of a busy clinic take?

Generates a year of a busy clinic (30 doctors, 300,000 queue visits, 60% booked: with
no-shows, cancellations and late cancellations), rolls every closed day up with the
product's own job code, then times `analytics.summary_for` (the verb behind
GET /api/analytics/summary) for the last month and the whole year, for all doctors and for
one, and compares it with a bare twin: a plain `SELECT count(*)` over the same year of
queue visits, the least any live answer could cost.

    .venv/bin/python bench/analytics.py [--database-url URL] [--skip-postgres]
                                        [--visits 300000] [--doctors 30]

1. SQLite (a temporary file);
2. PostgreSQL: by default the database test_d_analytics on 127.0.0.1, whose public schema
   is dropped and migrated afresh (skipped with a note when nothing answers there).

The rows are generated straight into the tables in bulk: this is a data generator, not a
test of the rules, and 300,000 visits through the services would take an hour. Targets
(issue 17): the year under 500 ms on PostgreSQL and under 1.5 s on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import create_async_engine

import clinicflow.models  # noqa: F401 - every table, so foreign keys resolve
import harness
from clinicflow.analytics import service as analytics
from clinicflow.clinic import service as clinic
from clinicflow.config import Settings
from clinicflow.identity.models import DoctorProfile, User
from clinicflow.identity.schemas import Role
from clinicflow.queue.models import Queue, QueueEntry
from clinicflow.queue.schemas import EntrySource, EntryStatus
from clinicflow.runtime import Runtime, build_runtime
from clinicflow.scheduling.models import Appointment
from clinicflow.scheduling.schemas import AppointmentStatus, Mode

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test_d_analytics"
SECRET = "bench-secret-" + "x" * 32
PATIENTS = 40_000
BATCH = 5_000
REPEATS = 7
ZONE = ZoneInfo("Africa/Nairobi")


def settings_for(database_url: str, var_dir: str) -> Settings:
    return Settings(
        env="development",
        database_url=database_url,
        var_dir=Path(var_dir),
        secret_key=SECRET,
        embedded_worker=False,
    )


async def insert_all(runtime: Runtime, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        async with runtime.transaction() as session:
            await session.execute(insert(table), rows[start : start + BATCH])


async def generate(
    runtime: Runtime, visits: int, doctors: int, last_day: date, seed: int = 17
) -> None:
    """A year of `visits` queue places ending on `last_day`, spread over `doctors`."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    doctor_ids = [uuid.uuid4() for _ in range(doctors)]
    patient_ids = [uuid.uuid4() for _ in range(PATIENTS)]
    users = [
        {"id": d, "role": Role.doctor, "name": f"Dr. Bench {n:02d}", "email": f"d{n}@bench.example"}
        for n, d in enumerate(doctor_ids)
    ] + [
        {"id": p, "role": Role.patient, "name": f"Patient {n}", "phone": f"+2547{n:08d}"}
        for n, p in enumerate(patient_ids)
    ]
    await insert_all(runtime, User, users)
    await insert_all(runtime, DoctorProfile, [{"user_id": d} for d in doctor_ids])

    days = [last_day - timedelta(days=n) for n in range(365)]
    queues: dict[tuple[uuid.UUID, date], uuid.UUID] = {}
    tokens: dict[uuid.UUID, int] = defaultdict(int)
    slots: dict[tuple[uuid.UUID, date], int] = defaultdict(int)
    entries, appointments = [], []
    for _ in range(visits):
        doctor, day = rng.choice(doctor_ids), rng.choice(days)
        queue_id = queues.setdefault((doctor, day), uuid.uuid4())
        tokens[queue_id] += 1
        opening = datetime.combine(day, clock_time(8), ZONE).astimezone(UTC)
        joined = opening + timedelta(minutes=rng.uniform(0, 9 * 60))
        booked = rng.random() < 0.6
        appointment_id = None
        status = EntryStatus.completed
        roll = rng.random()
        if roll < 0.08:
            status = EntryStatus.no_show
        wait = timedelta(minutes=rng.lognormvariate(2.8, 0.7))
        service = timedelta(minutes=rng.lognormvariate(2.5, 0.4))
        called = joined + wait
        patient = rng.choice(patient_ids)
        if booked:
            appointment_id = uuid.uuid4()
            slots[(doctor, day)] += 1
            starts = opening + timedelta(minutes=15 * slots[(doctor, day)])
            appointments.append(
                {
                    "id": appointment_id,
                    "doctor_id": doctor,
                    "patient_id": patient,
                    "booked_by_id": patient,
                    "starts_at": starts,
                    "ends_at": starts + timedelta(minutes=15),
                    "mode": Mode.in_person,
                    "reason": "",
                    "status": AppointmentStatus.no_show
                    if status is EntryStatus.no_show
                    else AppointmentStatus.completed,
                    "created_at": starts - timedelta(days=rng.randint(1, 14)),
                    "updated_at": now,
                }
            )
        entries.append(
            {
                "id": uuid.uuid4(),
                "queue_id": queue_id,
                "doctor_id": doctor,
                "day": day,
                "patient_id": patient,
                "appointment_id": appointment_id,
                "token": tokens[queue_id],
                "status": status,
                "source": EntrySource.check_in if booked else EntrySource.walk_in,
                "joined_at": joined,
                "called_at": called,
                "skipped_at": called if status is EntryStatus.no_show else None,
                "finished_at": called + service if status is EntryStatus.completed else None,
                "duration_seconds": int(service.total_seconds())
                if status is EntryStatus.completed
                else None,
            }
        )
    # Cancelled bookings: one for every nine kept, a third of them inside the cut-off.
    for _ in range(len(appointments) // 9):
        doctor, day = rng.choice(doctor_ids), rng.choice(days)
        starts = datetime.combine(day, clock_time(17), ZONE).astimezone(UTC) + timedelta(
            minutes=rng.randint(0, 600)
        )
        appointments.append(
            {
                "id": uuid.uuid4(),
                "doctor_id": doctor,
                "patient_id": (patient := rng.choice(patient_ids)),
                "booked_by_id": patient,
                "starts_at": starts,
                "ends_at": starts + timedelta(minutes=15),
                "mode": Mode.online,
                "reason": "",
                "status": AppointmentStatus.cancelled,
                "cancelled_at": starts - timedelta(minutes=rng.choice((30, 300, 3000))),
                "created_at": starts - timedelta(days=3),
                "updated_at": now,
            }
        )
    await insert_all(
        runtime,
        Queue,
        [
            {"id": q, "doctor_id": d, "day": day, "last_token": tokens[q], "created_at": now}
            for (d, day), q in queues.items()
        ],
    )
    await insert_all(runtime, Appointment, appointments)
    await insert_all(runtime, QueueEntry, entries)


async def timed(work: Callable[[], Awaitable[Any]]) -> float:
    """The median of `REPEATS` runs, in milliseconds, after one warm-up."""
    await work()
    laps = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        await work()
        laps.append((time.perf_counter() - started) * 1000)
    return statistics.median(laps)


async def measure(runtime: Runtime, visits: int, doctors: int) -> None:
    today = datetime.now(ZONE).date()
    yesterday = today - timedelta(days=1)
    started = time.perf_counter()
    await generate(runtime, visits, doctors, yesterday)
    print(f"  {'generated':<44} {time.perf_counter() - started:8.1f} s")

    async with runtime.transaction() as session:
        profile = await clinic.current(session=session, defaults=runtime.settings)
    started = time.perf_counter()
    for n in range(365):
        async with runtime.transaction() as session:
            await analytics.roll_up_day(
                session=session, clinic=profile, day=yesterday - timedelta(days=n)
            )
    print(f"  {'rolled up 365 days':<44} {time.perf_counter() - started:8.1f} s")

    async with runtime.transaction(write=False) as session:
        admin_id = uuid.uuid4()
        one = await session.scalar(select(User.id).where(User.role == Role.doctor).limit(1))
    admin = type("Admin", (), {"id": admin_id, "role": Role.admin})()
    year_start = datetime.combine(today - timedelta(days=365), clock_time(0), ZONE)

    async def bare() -> None:
        async with runtime.transaction(write=False) as session:
            await session.scalar(
                select(func.count())
                .select_from(QueueEntry)
                .where(QueueEntry.joined_at >= year_start)
            )

    bare_ms = await timed(bare)
    print(f"  {'bare twin: SELECT count(*) over the year':<44} {bare_ms:8.1f} ms")
    for label, days in (("month", 30), ("year", 365)):
        for who, doctor_id in (("all doctors", None), ("one doctor", one)):

            async def summary(days: int = days, doctor_id: uuid.UUID | None = doctor_id) -> None:
                async with runtime.transaction(write=False) as session:
                    await analytics.summary_for(
                        session=session,
                        actor=admin,
                        clinic=profile,
                        first=today - timedelta(days=days - 1),
                        last=today,
                        doctor_id=doctor_id,
                    )

            ms = await timed(summary)
            name = f"summary, {label}, {who}"
            print(f"  {name:<44} {ms:8.1f} ms  ({ms / bare_ms:5.1f}x the bare twin)")


def run_backend(database_url: str, visits: int, doctors: int) -> None:
    backend = database_url.split(":", 1)[0]
    print(f"\nbackend {backend}: {visits} visits, {doctors} doctors, one year")
    with tempfile.TemporaryDirectory() as var_dir:
        env = {**harness.environment(database_url, var_dir), "CLINICFLOW_SECRET_KEY": SECRET}
        harness.migrate(env)

        async def run() -> None:
            runtime = build_runtime(settings_for(database_url, var_dir))
            try:
                await measure(runtime, visits, doctors)
            finally:
                await runtime.close()

        asyncio.run(run())


async def reset_postgres(database_url: str) -> bool:
    """Drop and recreate the public schema of the bench's own database; False if no server."""
    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    except (OSError, ConnectionError) as exc:
        print(f"\nPostgreSQL skipped: {exc}")
        return False
    finally:
        await engine.dispose()
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--visits", type=int, default=300_000)
    parser.add_argument("--doctors", type=int, default=30)
    args = parser.parse_args()
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as scratch:
            sqlite = f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
            run_backend(sqlite, args.visits, args.doctors)
    if not args.skip_postgres and asyncio.run(reset_postgres(args.database_url)):
        run_backend(args.database_url, args.visits, args.doctors)


if __name__ == "__main__":
    main()
