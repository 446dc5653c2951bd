"""The summary as an actor asks for it: the range checked, the scope decided by access."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.analytics import access
from clinicflow.analytics.schemas import Summary
from clinicflow.analytics.service.days import Bucket, today
from clinicflow.analytics.service.summary import summary
from clinicflow.clinic.schemas import ClinicProfile
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _

DEFAULT_DAYS = 30
# Two years and a leap day: past that a request is a mistake, not a question.
MAX_DAYS = 731
# The clinic's records start after this; far dates would only overflow the day windows.
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def default_range(clinic: ClinicProfile) -> tuple[date, date]:
    """The last 30 clinic days, today included."""
    last = today(clinic.zone)
    return last - timedelta(days=DEFAULT_DAYS - 1), last


async def summary_for(
    *,
    session: AsyncSession,
    actor: Actor,
    clinic: ClinicProfile,
    first: date | None,
    last: date | None,
    bucket: Bucket = Bucket.day,
    doctor_id: uuid.UUID | None = None,
) -> Summary:
    """The figures the actor may see for `[first, last]` (clinic dates; the last 30 days
    when not given), for one doctor or all."""
    scope = access.scope_for(actor, doctor_id)
    default_first, default_last = default_range(clinic)
    last = last or default_last
    first = first or min(default_first, last)
    for name, value in (("from", first), ("to", last)):
        if not EARLIEST <= value <= LATEST:
            raise AppError(
                ErrorCode.validation_error,
                _("Choose a date between {earliest} and {latest}.").format(
                    earliest=EARLIEST.isoformat(), latest=LATEST.isoformat()
                ),
                {"field": name},
            )
    if first > last:
        raise AppError(
            ErrorCode.validation_error, _("The end date is before the start date."), {"field": "to"}
        )
    if (last - first).days >= MAX_DAYS:
        raise AppError(
            ErrorCode.validation_error,
            _("Choose a range of at most two years."),
            {"field": "from"},
        )
    return await summary(
        session=session,
        clinic=clinic,
        first=first,
        last=last,
        bucket=bucket,
        doctor_id=scope,
        clinic_wide=scope is None,
    )
