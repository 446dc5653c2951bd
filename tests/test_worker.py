"""The periodic job runner: jobs run in their own transactions, a failure does not stop the
loop, the web process runs the jobs when embedded, and `clinicflow worker` runs them alone.
Scheduling's jobs run here too: the waitlist sweep and the appointment reminders."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from datetime import date, timedelta

import httpx
import pytest
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import worker
from clinicflow.app import create_app
from clinicflow.clinic import service as clinic_settings
from clinicflow.config import Settings
from clinicflow.core import audit
from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from clinicflow.scheduling import jobs as scheduling_jobs
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.models import OfferStatus, WaitlistOffer
from clinicflow.scheduling.schemas import Mode
from tests.factories import Accounts
from tests.notifications.helpers import kinds, told
from tests.scheduling.clinic import Clinic

pytestmark = pytest.mark.usefixtures("app")

UUID = uuid.UUID("00000000-0000-4000-8000-000000000001")

FAST = 0.01  # seconds between runs in the loop tests


async def run_until(runtime: Runtime, jobs: list[worker.Job], done: asyncio.Event) -> None:
    """Run the loop until `done` is set, then stop it and wait for it to end."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(runtime, stop, jobs))
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_a_failing_job_is_logged_and_the_loop_goes_on(runtime: Runtime) -> None:
    runs = {"boom": 0, "count": 0}
    done = asyncio.Event()

    async def boom(_runtime: Runtime, _session: AsyncSession) -> None:
        runs["boom"] += 1
        raise RuntimeError("a bad row")

    async def count(_runtime: Runtime, _session: AsyncSession) -> None:
        runs["count"] += 1
        if runs["count"] >= 3:
            done.set()

    with structlog.testing.capture_logs() as logs:
        await run_until(
            runtime, [worker.Job("boom", FAST, boom), worker.Job("count", FAST, count)], done
        )
    assert runs["boom"] >= 3
    failures = [entry for entry in logs if entry["event"] == "worker.job_failed"]
    assert len(failures) == runs["boom"]
    assert failures[0]["job"] == "boom"


async def test_each_run_is_its_own_transaction(runtime: Runtime, session: AsyncSession) -> None:
    runs = 0
    done = asyncio.Event()

    async def write_then_maybe_fail(_runtime: Runtime, transaction: AsyncSession) -> None:
        nonlocal runs
        runs += 1
        await audit.record(
            transaction, action="test.job", resource_type="test", details={"n": runs}
        )
        if runs == 1:
            raise RuntimeError("the first run fails after writing")
        done.set()

    await run_until(runtime, [worker.Job("writer", FAST, write_then_maybe_fail)], done)
    kept = list(
        await session.scalars(select(AuditEntry.details).where(AuditEntry.action == "test.job"))
    )
    assert kept[0] == {"n": 2}  # the failed first run left nothing behind
    assert {"n": 1} not in kept


async def test_stopping_does_not_wait_for_the_next_run(runtime: Runtime) -> None:
    ran = asyncio.Event()

    async def hourly(_runtime: Runtime, _session: AsyncSession) -> None:
        ran.set()

    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(runtime, stop, [worker.Job("h", 3600, hourly)]))
    await asyncio.wait_for(ran.wait(), 10)  # every job runs once at the start
    stop.set()
    await asyncio.wait_for(task, 1)


# --- the waitlist sweep, run by the web process and by `clinicflow worker` --------------------


async def lapsed_offer(accounts: Accounts, runtime: Runtime, clock: FrozenClock) -> None:
    """Two patients wait; a cancellation offers a slot to the first; 15 minutes pass."""
    doctor = await accounts.make(Role.doctor)
    patients = [await accounts.make(Role.patient) for _ in range(3)]
    starts_at = clock.current.replace(hour=10, minute=0) + timedelta(days=1)
    async with runtime.transaction() as session:
        await scheduling.set_availability(
            session=session,
            actor=doctor,
            doctor_id=doctor.id,
            timezone="UTC",
            slot_minutes=15,
            weekly={"tue": [("09:00", "12:00")]},
            exceptions=[],
        )
        for patient in patients[:2]:
            clock.advance(milliseconds=1)
            await scheduling.join_waitlist(
                session=session,
                settings=runtime.settings,
                actor=patient,
                doctor_id=doctor.id,
                first_day=date(2026, 3, 3),
                last_day=date(2026, 3, 3),
            )
        appointment = await scheduling.book(
            session=session,
            settings=runtime.settings,
            actor=patients[2],
            doctor_id=doctor.id,
            starts_at=starts_at,
            mode=Mode.online,
        )
        await scheduling.cancel(
            session=session,
            settings=runtime.settings,
            actor=patients[2],
            appointment_id=appointment.id,
        )
    clock.advance(minutes=15)


async def offer_statuses(session: AsyncSession) -> list[OfferStatus]:
    return list(
        await session.scalars(select(WaitlistOffer.status).order_by(WaitlistOffer.created_at))
    )


async def test_the_web_process_passes_lapsed_offers_on_by_itself(
    accounts: Accounts,
    runtime: Runtime,
    settings: Settings,
    frozen_clock: FrozenClock,
    session: AsyncSession,
) -> None:
    await lapsed_offer(accounts, runtime, frozen_clock)
    assert await offer_statuses(session) == [OfferStatus.open]
    web = create_app(settings.model_copy(update={"embedded_worker": True}))
    async with web.router.lifespan_context(web):
        for _ in range(200):
            if await offer_statuses(session) == [OfferStatus.lapsed, OfferStatus.open]:
                break
            await asyncio.sleep(0.05)
    assert await offer_statuses(session) == [OfferStatus.lapsed, OfferStatus.open]


async def test_a_web_process_without_the_embedded_worker_leaves_them(
    accounts: Accounts,
    runtime: Runtime,
    settings: Settings,
    frozen_clock: FrozenClock,
    session: AsyncSession,
) -> None:
    await lapsed_offer(accounts, runtime, frozen_clock)
    web = create_app(settings.model_copy(update={"embedded_worker": False}))
    async with web.router.lifespan_context(web):
        await asyncio.sleep(0.3)
    assert await offer_statuses(session) == [OfferStatus.open]


async def test_the_worker_command_runs_until_sigterm(settings: Settings) -> None:
    environment = {
        **os.environ,
        "CLINICFLOW_ENV": "test",
        "CLINICFLOW_SECRET_KEY": settings.secret_key,
        "DATABASE_URL": settings.database_url,
        "CLINICFLOW_VAR_DIR": str(settings.var_dir),
    }
    environment.pop("REDIS_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clinicflow",
        "worker",
        env=environment,
        cwd=settings.var_dir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        started = await asyncio.wait_for(process.stderr.readline(), 30)
        assert b"worker.started" in started, started
        process.send_signal(signal.SIGTERM)
        _, rest = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, rest
    assert b"worker.stopped" in rest
    assert b"worker.job_failed" not in rest


# --- the appointment reminders: scheduling finds them due, notifications tells the patient ---

THURSDAY_9 = "2026-03-05T06:00:00+00:00"  # 09:00 in Nairobi


@pytest.fixture
def clinic(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> Clinic:
    """The scheduling tests' clinic (a Nairobi doctor's week, the clock on Monday noon there)."""
    return Clinic(client, accounts, runtime)


async def test_reminders_a_day_and_an_hour_before_once_each(
    clinic: Clinic, runtime: Runtime, session: AsyncSession, frozen_clock: FrozenClock
) -> None:
    doctor, _doctor_headers = await clinic.doctor()
    patient, headers = await clinic.patient()
    assert (await clinic.book(headers, doctor, THURSDAY_9)).status_code == 201
    async with runtime.transaction() as tx:
        assert await scheduling_jobs.send_due_reminders(session=tx) == 0  # nothing due yet

    frozen_clock.current = frozen_clock.current.replace(day=4, hour=6, minute=1)
    for _ in range(2):  # a second run (or a second worker) tells nobody twice
        async with runtime.transaction() as tx:
            await scheduling_jobs.send_due_reminders(session=tx)
    frozen_clock.current = frozen_clock.current.replace(hour=10)
    late, late_headers = await clinic.patient()
    # Booked less than a day ahead: no "tomorrow" reminder for this one.
    assert (await clinic.book(late_headers, doctor, "2026-03-05T06:15:00+00:00")).status_code == 201
    async with runtime.transaction() as tx:
        assert await scheduling_jobs.send_due_reminders(session=tx) == 0
    frozen_clock.current = frozen_clock.current.replace(day=5, hour=5, minute=1)
    async with runtime.transaction() as tx:
        assert await scheduling_jobs.send_due_reminders(session=tx) == 1
    frozen_clock.advance(minutes=15)
    async with runtime.transaction() as tx:
        assert await scheduling_jobs.send_due_reminders(session=tx) == 1

    found = await told(session, patient.id)
    assert kinds(found) == ["booking_confirmed", "reminder_24h", "reminder_1h"]
    assert found[1][2] == f"Reminder: you see {doctor.name} on Mar 5, 2026, 09:00 (Africa/Nairobi)."
    assert found[2][1] == {"in_app", "sms"}
    assert kinds(await told(session, late.id)) == ["booking_confirmed", "reminder_1h"]


async def test_the_worker_sends_the_reminders_every_minute(
    clinic: Clinic, runtime: Runtime, session: AsyncSession, frozen_clock: FrozenClock
) -> None:
    doctor, _doctor_headers = await clinic.doctor()
    patient, headers = await clinic.patient()
    assert (await clinic.book(headers, doctor, THURSDAY_9)).status_code == 201
    job = next(job for job in worker.JOBS if job.run is scheduling_jobs.send_reminders)
    assert job.interval_seconds == 60

    frozen_clock.current = frozen_clock.current.replace(day=4, hour=6, minute=1)
    assert await worker.run_once(runtime, job)
    assert kinds(await told(session, patient.id)) == ["booking_confirmed", "reminder_24h"]


def test_the_clinics_reminder_times_become_reminders_furthest_first() -> None:
    standard = scheduling_jobs.reminders([60, 1440])
    assert [(r.kind.value, r.before, r.until) for r in standard] == [
        ("reminder_24h", timedelta(hours=24), timedelta(hours=1)),
        ("reminder_1h", timedelta(hours=1), timedelta(0)),
    ]
    # The standard two keep the keys they always had; others name their minutes.
    assert standard[0].key(UUID) == f"reminder_24h:{UUID}"
    three_hours = scheduling_jobs.reminders([180, 2880, 0, 180])
    assert [(r.kind.value, r.before, r.until) for r in three_hours] == [
        ("reminder_24h", timedelta(days=2), timedelta(hours=3)),
        ("reminder_1h", timedelta(hours=3), timedelta(0)),
    ]
    assert three_hours[1].key(UUID) == f"reminder_1h:180m:{UUID}"


async def test_a_clinic_that_reminds_three_hours_ahead_sends_that_reminder(
    clinic: Clinic, runtime: Runtime, session: AsyncSession, frozen_clock: FrozenClock
) -> None:
    admin = await clinic.accounts.make(Role.admin)
    async with runtime.transaction() as tx:
        await clinic_settings.update(session=tx, actor=admin, changes={"reminder_minutes": [180]})
    doctor, _doctor_headers = await clinic.doctor()
    patient, headers = await clinic.patient()
    assert (await clinic.book(headers, doctor, THURSDAY_9)).status_code == 201
    # A day ahead: nothing, this clinic does not remind then.
    frozen_clock.current = frozen_clock.current.replace(day=4, hour=6, minute=1)
    async with runtime.transaction() as tx:
        assert await scheduling_jobs.send_due_reminders(session=tx) == 0
    # Three hours ahead (06:00 UTC is 09:00 in Nairobi): the reminder, once.
    frozen_clock.current = frozen_clock.current.replace(day=5, hour=3, minute=1)
    for sent in (1, 0):
        async with runtime.transaction() as tx:
            assert await scheduling_jobs.send_due_reminders(session=tx) == sent
    assert kinds(await told(session, patient.id)) == ["booking_confirmed", "reminder_1h"]
