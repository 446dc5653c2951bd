"""Worker jobs of analytics: the daily roll-up of closed clinic days, and the weekly report."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.analytics import report
from clinicflow.analytics import service as analytics
from clinicflow.clinic import service as clinic
from clinicflow.core import clock
from clinicflow.identity import service as identity
from clinicflow.notifications import service as notifications
from clinicflow.notifications.schemas import Attachment, Kind
from clinicflow.runtime import Runtime

# Hourly: the first run after midnight closes yesterday; later runs re-roll the last days
# (idempotent), which picks up patients seen after midnight and late corrections.
ROLL_UP_SECONDS = 3600.0


async def roll_up(runtime: Runtime, session: AsyncSession) -> None:
    profile = await clinic.current(session=session, defaults=runtime.settings)
    await analytics.roll_up_recent(session=session, clinic=profile)


# Often enough that Monday's report goes out within the hour after its sending time; each
# admin's copy names its week (`dedupe_key`), so later runs, and two workers, send nothing.
WEEKLY_REPORT_SECONDS = 900.0


async def send_weekly_report(runtime: Runtime, session: AsyncSession) -> None:
    """Last week's figures to every active admin, in the clinic's language, once each. A
    week in which nothing happened (a clinic installed since, or closed all week) is not
    reported: an empty report every Monday teaches people to ignore the next one."""
    profile = await clinic.current(session=session, defaults=runtime.settings)
    week = report.due_week(clock.now(), profile.zone)
    if week is None:
        return
    admins = [
        admin
        for admin in await identity.active_admins(session)
        if not await notifications.already_told(session, _key(week, admin.id))
    ]
    if not admins:
        return
    # Every admin sees the whole clinic, so one summary serves them all.
    summary = await analytics.summary_for(
        session=session, actor=admins[0], clinic=profile, first=week.first, last=week.last
    )
    if not report.anything_happened(summary):
        return
    language = profile.default_language
    name = f"clinicflow-{week.key}"
    attachments = [
        Attachment(
            f"{name}.pdf",
            "application/pdf",
            report.pdf(summary, clinic_name=profile.name, week=week, language=language),
        ),
        Attachment(f"{name}.csv", "text/csv", report.csv_bytes(summary)),
    ]
    for admin in admins:
        await notifications.notify(
            session,
            user_id=admin.id,
            kind=Kind.weekly_report,
            values={
                "period": report.period_label(week, language),
                "visits": str(summary.visits),
                "completed": str(summary.completed),
                "no_show_rate": report.percent(summary.no_show_rate),
            },
            dedupe_key=_key(week, admin.id),
            attachments=attachments,
        )


def _key(week: report.Week, admin_id: uuid.UUID) -> str:
    return f"weekly_report:{week.key}:{admin_id}"
