"""The patient's clinical profile: date of birth or an estimated age, sex, identity and
insurance numbers, next of kin.

Identity is the one writer of these fields (they live on `patient_profiles`). Every change
bumps the profile's version and keeps the new values, encrypted, in
`patient_profile_versions`, so an earlier value is never lost; the audit row names the
fields that changed, never their values. Every read by staff is audited too.

Other domains read the profile through `patient_profile` / `patient_profiles`, frozen views
with no access check: the asking domain has decided who may see them (the chart header,
the prescription paper).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import audit, clock
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity import access
from clinicflow.identity.models import PatientProfile, PatientProfileVersion, User
from clinicflow.identity.schemas import (
    CLINICAL_FIELDS,
    PatientProfileView,
    ProfileVersionView,
    Role,
    Sex,
)


def today() -> date:
    """Ages count in whole years up to today's date on the clock (UTC): a birthday turns
    at most a few hours early or late for a clinic far from Greenwich."""
    return clock.now().date()


def whole_years(start: date, end: date) -> int:
    """Whole years from `start` to `end` (0 before it): one more on each anniversary, and
    on 1 March for a 29 February birthday in a common year."""
    before_anniversary = (end.month, end.day) < (start.month, start.day)
    return max(0, end.year - start.year - int(before_anniversary))


def _estimate_now(profile: PatientProfile, on: date) -> int | None:
    """The estimate given then, plus the whole years since it was given."""
    if profile.estimated_age is None:
        return None
    given_on = profile.estimated_on or on
    return profile.estimated_age + whole_years(given_on, on)


def view_of(patient_id: uuid.UUID, profile: PatientProfile) -> PatientProfileView:
    on = today()
    estimate = None if profile.date_of_birth else _estimate_now(profile, on)
    if profile.date_of_birth is not None:
        years: int | None = whole_years(profile.date_of_birth, on)
        label = str(years)
    elif estimate is not None:
        years, label = estimate, f"~{estimate}"
    else:
        years, label = None, ""
    return PatientProfileView(
        patient_id=patient_id,
        date_of_birth=profile.date_of_birth,
        estimated_age=estimate,
        age_years=years,
        age_label=label,
        sex=profile.sex or Sex.unknown,
        national_id=profile.national_id,
        insurance_number=profile.insurance_number,
        next_of_kin_name=profile.next_of_kin_name,
        next_of_kin_phone=profile.next_of_kin_phone,
        version=profile.profile_version or 0,
    )


async def patient_profile(
    session: AsyncSession, patient_id: uuid.UUID
) -> PatientProfileView | None:
    """The patient's profile as other domains read it; None for anyone who is not a patient.
    No access check and no audit: the asking domain decides and audits its own read."""
    return (await patient_profiles(session, [patient_id])).get(patient_id)


async def patient_profiles(
    session: AsyncSession, patient_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, PatientProfileView]:
    """Several patients' profiles in one query, keyed by patient id (patients only)."""
    wanted = set(patient_ids)
    if not wanted:
        return {}
    rows = await session.scalars(
        select(PatientProfile)
        .join(User, User.id == PatientProfile.user_id)
        .where(PatientProfile.user_id.in_(wanted), User.role == Role.patient)
    )
    return {row.user_id: view_of(row.user_id, row) for row in rows}


async def read_patient_profile(
    *, session: AsyncSession, actor: audit.Actor, patient_id: uuid.UUID
) -> PatientProfileView:
    """The profile for someone who may read it (`access.get_profile_for`); a staff read is
    audited."""
    profile = await access.get_profile_for(session, actor, patient_id)
    if access.profile_reads_are_audited(actor):
        await audit.record(
            session,
            action="patient_profile.read",
            resource_type="patient",
            resource_id=patient_id,
            actor=actor,
        )
    return view_of(patient_id, profile)


def _check(changes: dict[str, Any]) -> None:
    born = changes.get("date_of_birth")
    if born is not None and changes.get("estimated_age") is not None:
        raise AppError(
            ErrorCode.validation_error,
            _("Give either the date of birth or an estimated age, not both."),
            {"fields": ["date_of_birth", "estimated_age"]},
        )
    if isinstance(born, date) and born > today():
        raise AppError(
            ErrorCode.validation_error,
            _("Date of birth cannot be in the future."),
            {"field": "date_of_birth"},
        )


def _snapshot(profile: PatientProfile) -> dict[str, Any]:
    return {
        "date_of_birth": profile.date_of_birth.isoformat() if profile.date_of_birth else None,
        "estimated_age": profile.estimated_age,
        "estimated_on": profile.estimated_on.isoformat() if profile.estimated_on else None,
        "sex": (profile.sex or Sex.unknown).value,
        "national_id": profile.national_id,
        "insurance_number": profile.insurance_number,
        "next_of_kin_name": profile.next_of_kin_name,
        "next_of_kin_phone": profile.next_of_kin_phone,
    }


def _apply(profile: PatientProfile, changes: dict[str, Any]) -> None:
    """Set the fields sent (None clears, except sex, which goes back to unknown); a date of
    birth forgets an estimate and an estimate forgets a date of birth."""
    for field in CLINICAL_FIELDS:
        if field not in changes:
            continue
        value = changes[field]
        if field == "sex":
            profile.sex = Sex(value) if value is not None else Sex.unknown
        elif field == "estimated_age":
            if value is not None and value == _estimate_now(profile, today()):
                continue  # the age shown, sent back: the estimate keeps its day
            profile.estimated_age = value
            profile.estimated_on = today() if value is not None else None
            if value is not None:
                profile.date_of_birth = None
        elif field == "date_of_birth":
            profile.date_of_birth = value
            if value is not None:
                profile.estimated_age = None
                profile.estimated_on = None
        else:
            setattr(profile, field, value)


async def record_patient_profile(
    session: AsyncSession,
    *,
    actor: audit.Actor,
    patient_id: uuid.UUID,
    changes: dict[str, Any],
) -> PatientProfileView:
    """Apply a change the front desk typed: checked, versioned and audited. `changes` holds
    only the fields sent (`ClinicalProfileIn` with `exclude_unset`); an unchanged value is
    no change, and no change makes no version."""
    await access.get_profile_for(session, actor, patient_id, to_change=True)
    _check(changes)
    # Locked, so two corrections never take the same version number.
    profile = await session.scalar(
        select(PatientProfile)
        .where(PatientProfile.user_id == patient_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert profile is not None  # get_profile_for found it
    before = _snapshot(profile)
    _apply(profile, changes)
    after = _snapshot(profile)
    changed = sorted(
        field
        for field in CLINICAL_FIELDS
        if before.get(field) != after.get(field)
        or (field == "estimated_age" and before["estimated_on"] != after["estimated_on"])
    )
    if not changed:
        return view_of(patient_id, profile)
    profile.profile_version = (profile.profile_version or 0) + 1
    session.add(
        PatientProfileVersion(
            patient_id=patient_id,
            version=profile.profile_version,
            values=json.dumps(after),
            fields=changed,
            changed_by_id=actor.id,
            changed_at=clock.now(),
        )
    )
    await audit.record(
        session,
        action="patient_profile.update",
        resource_type="patient",
        resource_id=patient_id,
        actor=actor,
        # The names of the fields, never their values: the audit trail is not encrypted.
        details={"fields": changed, "version": profile.profile_version},
    )
    await session.flush()
    return view_of(patient_id, profile)


async def patient_profile_history(
    *, session: AsyncSession, actor: audit.Actor, patient_id: uuid.UUID
) -> list[ProfileVersionView]:
    """Every kept version, newest first, for those who correct the profile (audited)."""
    await access.get_profile_for(session, actor, patient_id, to_change=True)
    rows = await session.scalars(
        select(PatientProfileVersion)
        .where(PatientProfileVersion.patient_id == patient_id)
        .order_by(PatientProfileVersion.version.desc())
    )
    await audit.record(
        session,
        action="patient_profile.history",
        resource_type="patient",
        resource_id=patient_id,
        actor=actor,
    )
    return [
        ProfileVersionView(
            version=row.version,
            changed_at=row.changed_at,
            changed_by_id=row.changed_by_id,
            fields=list(row.fields),
            values=json.loads(row.values),
        )
        for row in rows
    ]
