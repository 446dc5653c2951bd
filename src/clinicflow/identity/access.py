"""Who may see and change which user, and who may sign in how: decided here and nowhere else."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity import roles
from clinicflow.identity.models import PatientProfile, User
from clinicflow.identity.schemas import Role


def may_sign_in_with_password(role: Role) -> bool:
    """Staff sign in by email and password; a patient never does, even with a password set."""
    return role in roles.STAFF


def may_sign_in_with_code(role: Role) -> bool:
    """Only patients sign in by a code texted to their phone."""
    return role is Role.patient


def can_manage_users(actor: User) -> bool:
    """Accounts are managed by an active administrator, and nobody else."""
    return actor.is_active and actor.role is Role.admin


def require_user_manager(actor: User) -> None:
    """Creating, editing and listing accounts is an active administrator's job."""
    if not can_manage_users(actor):
        raise AppError(ErrorCode.forbidden, _("Only an administrator can manage accounts."))


def require_no_self_lockout(
    actor: User, user: User, *, role: Role | None, is_active: bool | None
) -> None:
    """An admin may not deactivate themself or change their own role, so the clinic is
    never left without an admin by accident."""
    if user.id == actor.id and (is_active is False or role not in (None, actor.role)):
        raise AppError(
            ErrorCode.cannot_modify_self,
            _("You cannot deactivate your own account or change your own role."),
        )


async def require_another_active_admin(session: AsyncSession, user: User) -> None:
    """An active admin may not be deactivated or given another role when they are the
    last one: the clinic would have nobody left to manage accounts (409 `last_admin`).

    The active admins' rows are locked first (`FOR UPDATE` on PostgreSQL; on SQLite the
    writer's `BEGIN IMMEDIATE` already runs one change at a time), so two admins demoting
    each other at once are decided one after the other and one admin always remains.
    """
    if user.role is not Role.admin or not user.is_active:
        return
    admins = await session.scalars(
        select(User.id).where(User.role == Role.admin, User.is_active.is_(True)).with_for_update()
    )
    if not set(admins) - {user.id}:
        raise AppError(
            ErrorCode.last_admin,
            _("This is the last active administrator: make another one first."),
        )


def must_change_password(user: User) -> bool:
    """A temporary password works for one thing only: choosing the user's own password."""
    return user.must_change_password


def require_password_settled(user: User) -> None:
    """Until a temporary password is replaced, every API call but changing it and signing
    out answers 403 `password_change_required`."""
    if must_change_password(user):
        raise AppError(
            ErrorCode.password_change_required,
            _("Choose your own password before you continue."),
        )


def require_staff_login(user: User) -> None:
    """Passwords and invitations are for staff; a patient signs in with a texted code."""
    if not may_sign_in_with_password(user.role):
        raise AppError(
            ErrorCode.wrong_login_method,
            _("Patients sign in with a code sent to their phone, not a password."),
        )


# --- doctors' profiles and the specialty list ---------------------------------------------------

DOCTOR_OWN_FIELDS = frozenset({"bio", "languages", "photo"})
DOCTOR_ADMIN_FIELDS = frozenset(
    {
        "specialty_id",
        "languages",
        "bio",
        "registration_number",
        "consultation_types",
        "consultation_minutes",
        "photo",
    }
)


def doctor_profile_fields(actor: Actor, doctor_id: uuid.UUID) -> frozenset[str]:
    """What the actor may change on a doctor's profile: an admin every field, the doctor
    their own bio, languages and photo, anyone else nothing. (The meeting link is the
    queue's to decide: `PUT /api/doctors/{id}/meet-link`.)"""
    if actor.role is Role.admin:
        return DOCTOR_ADMIN_FIELDS
    if actor.role is Role.doctor and actor.id == doctor_id:
        return DOCTOR_OWN_FIELDS
    return frozenset()


def require_doctor_profile_editor(
    actor: Actor, doctor_id: uuid.UUID, fields: set[str] | frozenset[str]
) -> None:
    """Anyone who may change nothing is told not-found (as for a doctor who does not
    exist); a doctor sending a field only an admin sets is told 403 naming it."""
    allowed = doctor_profile_fields(actor, doctor_id)
    if not allowed:
        raise not_found()
    refused = sorted(set(fields) - allowed)
    if refused:
        raise AppError(
            ErrorCode.forbidden,
            _("Only an administrator changes these fields."),
            {"fields": refused},
        )


def require_specialty_keeper(actor: Actor) -> None:
    """The list of specialties is kept by an administrator."""
    if actor.role is not Role.admin:
        raise AppError(ErrorCode.forbidden, _("Only an administrator keeps the specialty list."))


def require_front_desk(actor: Actor) -> None:
    """Looking patients up by name or phone is the front desk's job (and an admin's)."""
    if actor.role not in roles.FRONT_DESK:
        raise AppError(ErrorCode.forbidden, _("Only the front desk can book for patients."))


def can_view_user(actor: User, user: User) -> bool:
    """A user sees their own account; an administrator sees everyone's."""
    return actor.id == user.id or can_manage_users(actor)


async def get_user_for(session: AsyncSession, actor: User, user_id: uuid.UUID) -> User:
    """The user if the actor may see them; the same not-found whether missing or forbidden."""
    user = await session.get(User, user_id)
    if user is None or not can_view_user(actor, user):
        raise not_found()
    return user


# --- the patient's clinical profile ---------------------------------------------------------

CARE_RELATION_KEY = "clinicflow.identity.care_relation"


class CareRelation(Protocol):
    """Whether a doctor treats a patient (their chart is open to them).

    Records decides that (consultations, appointments, today's queue), and records sits
    above identity, so the runtime hands the answer in through `session.info` instead of
    identity importing it (`care_relation_info`)."""

    async def __call__(
        self, session: AsyncSession, actor: Actor, patient_id: uuid.UUID
    ) -> bool: ...


def care_relation_info(relation: CareRelation) -> dict[str, Any]:
    """What the runtime puts into every session's `info` so a doctor's read of a profile
    follows the same care relation as their read of the chart."""
    return {CARE_RELATION_KEY: relation}


async def _treats(session: AsyncSession, actor: Actor, patient_id: uuid.UUID) -> bool:
    # With no care relation handed in (a bare session), no doctor is anybody's doctor.
    relation: CareRelation | None = session.info.get(CARE_RELATION_KEY)
    return relation is not None and await relation(session, actor, patient_id)


def can_read_profile(actor: Actor, patient_id: uuid.UUID, *, treats: bool = False) -> bool:
    """A patient reads their own profile, the front desk everyone's, a doctor their patients'.

    "Their patients" (`treats`): the care relation records decides, handed in by the
    runtime; so a doctor answers "no" here when nobody told them they treat the patient.
    """
    if actor.role is Role.patient:
        return actor.id == patient_id
    if actor.role is Role.doctor:
        return treats
    return actor.role in roles.FRONT_DESK


def can_correct_profile(actor: Actor) -> bool:
    """The front desk (receptionist, admin) records and corrects a patient's profile."""
    return actor.role in roles.FRONT_DESK


def profile_reads_are_audited(actor: Actor) -> bool:
    """Every read of a patient's profile by staff writes an audit row; the patient's own does not."""
    return actor.role in roles.STAFF


async def get_profile_for(
    session: AsyncSession, actor: Actor, patient_id: uuid.UUID, *, to_change: bool = False
) -> PatientProfile:
    """The patient's profile row if the actor may read it (and, `to_change`, correct it).

    Not found for a missing patient and for a reader who may not see it, alike; a reader
    who may see it but not correct it (the patient, their doctor) is told 403.
    """
    user = await session.get(User, patient_id)
    if user is None or user.role is not Role.patient or user.patient is None:
        raise not_found()
    treats = actor.role is Role.doctor and await _treats(session, actor, patient_id)
    if not can_read_profile(actor, patient_id, treats=treats):
        raise not_found()
    if to_change and not can_correct_profile(actor):
        raise AppError(ErrorCode.forbidden, _("Only the front desk corrects a patient's profile."))
    return user.patient


def can_edit_own_contact(actor: Actor) -> bool:
    """A patient changes their own name, phone, email and language; staff ask an administrator."""
    return actor.role is Role.patient


def require_own_contact_editor(actor: Actor) -> None:
    """Only a patient edits their own contact details (`PUT /api/me`); staff get 403."""
    if not can_edit_own_contact(actor):
        raise AppError(ErrorCode.forbidden, _("Staff accounts are changed by an administrator."))
