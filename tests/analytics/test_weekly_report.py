"""The weekly report: on Monday from 07:00 clinic time every active admin is e-mailed last
week's figures, once, as a PDF with the same figures as CSV (the page's CSV, to the digit)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from email import message_from_bytes
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.analytics import jobs, report
from clinicflow.analytics import service as analytics
from clinicflow.config import Settings
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.notifications.jobs import Dispatcher
from clinicflow.notifications.models import Notification, NotificationAttachment
from clinicflow.notifications.schemas import Kind
from clinicflow.runtime import Runtime
from tests.analytics.day import ClinicDay
from tests.notifications.standins import Mailbox, smtp_mailbox

pytestmark = pytest.mark.usefixtures("app")

NAIROBI = ZoneInfo("Africa/Nairobi")
# Tuesday 3 March 2026, 10:00 in Nairobi: a day of last week, seen from Monday 9 March.
LAST_TUESDAY = datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
MONDAY_0659 = datetime(2026, 3, 9, 3, 59, tzinfo=UTC)
MONDAY_0700 = datetime(2026, 3, 9, 4, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def smtp_port() -> int:
    return _free_port()


@pytest.fixture
def mailbox(smtp_port: int) -> Iterator[Mailbox]:
    with smtp_mailbox(smtp_port) as box:
        yield box


@pytest.fixture
def settings(settings: Settings, smtp_port: int) -> Settings:
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_start_tls": False}
    )


@pytest.fixture
async def dispatcher(runtime: Runtime) -> AsyncIterator[Dispatcher]:
    running = Dispatcher(runtime)
    yield running
    await running.close()


def test_the_week_is_due_from_monday_seven_in_the_clinics_zone() -> None:
    assert report.due_week(MONDAY_0659, NAIROBI) is None
    week = report.due_week(MONDAY_0700, NAIROBI)
    assert week == report.Week(first=date(2026, 3, 2), last=date(2026, 3, 8))
    # Later in the week the same week is due (a worker that was down on Monday catches up).
    assert report.due_week(datetime(2026, 3, 14, 20, 0, tzinfo=UTC), NAIROBI) == week
    # Sunday night in Nairobi is already Monday morning there, not yet 07:00.
    assert report.due_week(datetime(2026, 3, 8, 22, 0, tzinfo=UTC), NAIROBI) is None


async def _run(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        await jobs.send_weekly_report(runtime, session)


async def test_a_week_in_which_nothing_happened_is_not_reported(
    runtime: Runtime, day: ClinicDay, session: AsyncSession
) -> None:
    await day.accounts.make(Role.admin, email="admin@example.com")
    await day.at(MONDAY_0700)
    await _run(runtime)
    weekly = select(Notification).where(Notification.kind == Kind.weekly_report)
    assert (await session.scalars(weekly)).all() == []


async def test_every_active_admin_gets_last_weeks_figures_once_with_pdf_and_csv(
    runtime: Runtime,
    day: ClinicDay,
    mailbox: Mailbox,
    dispatcher: Dispatcher,
    session: AsyncSession,
) -> None:
    admin = await day.accounts.make(Role.admin, email="admin@example.com")
    gone = await day.accounts.make(Role.admin, email="gone@example.com")
    async with runtime.transaction() as writing:
        await identity.update_user(
            session=writing, actor=admin, user_id=gone.id, changes={"is_active": False}
        )
    doctor = await day.doctor()
    first = await day.walk_in(doctor, LAST_TUESDAY)
    await day.walk_in(doctor, LAST_TUESDAY.replace(minute=5))
    await day.call(doctor, LAST_TUESDAY.replace(minute=20))
    await day.finish(doctor, first, LAST_TUESDAY.replace(minute=35))

    await day.at(MONDAY_0659)
    await _run(runtime)
    weekly = select(Notification).where(Notification.kind == Kind.weekly_report)
    assert (await session.scalars(weekly)).all() == []

    await day.at(MONDAY_0700)
    await _run(runtime)
    await _run(runtime)  # a second run (or worker) tells nobody twice
    [told] = (await session.scalars(weekly)).all()
    assert told.user_id == admin.id
    assert "Mar 2, 2026 - Mar 8, 2026" in told.body  # the clinic's days, in words
    assert "2 visits" in told.body
    files = (
        await session.scalars(
            select(NotificationAttachment).order_by(NotificationAttachment.filename)
        )
    ).all()
    assert [file.filename for file in files] == [
        "clinicflow-2026-03-02.csv",
        "clinicflow-2026-03-02.pdf",
    ]
    async with runtime.transaction(write=False) as reading:
        summary = await analytics.summary_for(
            session=reading,
            actor=admin,
            clinic=await day.profile(reading),
            first=date(2026, 3, 2),
            last=date(2026, 3, 8),
        )
    assert files[0].content.decode() == analytics.to_csv(summary)
    assert summary.visits == 2
    assert files[1].content.startswith(b"%PDF")

    # The e-mail carries both files.
    await dispatcher.run_once()
    [(_sender, recipients, raw)] = mailbox.messages
    assert recipients == ["admin@example.com"]
    email = message_from_bytes(raw)
    assert email["Subject"] == "Weekly report"
    attached = {
        part.get_filename(): part.get_payload(decode=True)
        for part in email.walk()
        if part.get_filename()
    }
    assert attached == {file.filename: file.content for file in files}
