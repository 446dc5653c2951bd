"""Looking people up: doctors for the public directory, patients for the front desk,
users and names in bulk for other domains."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import audit
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.core.held import Held
from clinicflow.i18n import gettext as _
from clinicflow.identity import access
from clinicflow.identity.models import DoctorProfile, Specialty, User
from clinicflow.identity.schemas import Role
from clinicflow.identity.service.accounts import create_patient_from_phone
from clinicflow.identity.service.sessions import detached_copy

HELD_DIRECTORY_KEY = "clinicflow.identity.held_directory"
HELD_DIRECTORY_TABLES = (User.__tablename__, DoctorProfile.__tablename__, Specialty.__tablename__)
HELD_DIRECTORY_SECONDS = 1.0


async def count_users(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(User)) or 0


async def get_doctor(session: AsyncSession, doctor_id: uuid.UUID) -> User:
    """An active doctor with their profile; the same not-found for anyone else."""
    user = await session.get(User, doctor_id)
    if user is None or user.role is not Role.doctor or not user.is_active or user.doctor is None:
        raise not_found()
    return user


async def get_patient(session: AsyncSession, patient_id: uuid.UUID) -> User:
    user = await session.get(User, patient_id)
    if user is None or user.role is not Role.patient or not user.is_active:
        raise not_found()
    return user


async def search_doctors(session: AsyncSession, query: str | None = None) -> list[User]:
    """Active doctors, by name or specialty: the public directory patients book from."""
    statement = (
        select(User)
        .join(DoctorProfile, DoctorProfile.user_id == User.id)
        .outerjoin(Specialty, Specialty.id == DoctorProfile.specialty_id)
        .where(User.role == Role.doctor, User.is_active.is_(True))
        .order_by(User.name)
    )
    if query:
        needle = query.strip().lower()
        statement = statement.where(
            or_(
                func.lower(User.name).contains(needle, autoescape=True),
                # The English name (kept in the free text) or the Swahili one.
                func.lower(DoctorProfile.specialty_text).contains(needle, autoescape=True),
                func.lower(Specialty.name_sw).contains(needle, autoescape=True),
            )
        )
    return list((await session.scalars(statement)).unique())


async def held_doctors(session: AsyncSession, query: str | None = None) -> list[User]:
    """`search_doctors` as this process last answered it (`core.held`: a doctor added,
    changed or deactivated here shows at once, from another process within
    `HELD_DIRECTORY_SECONDS`). The users belong to no session and are shared between
    requests: only for answers that read them, as the public directory does."""
    held: Held[list[User]] | None = session.info.get(HELD_DIRECTORY_KEY)
    if held is None:
        return await search_doctors(session, query)

    async def load() -> list[User]:
        return [detached_copy(user) for user in await search_doctors(session, query)]

    found = await held.read((query or "").strip().lower(), load)
    return found if found is not None else []


async def names(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Display names for a set of users, in one query."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    return {row[0]: row[1] for row in rows}


async def users(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> list[User]:
    """Several users in one query."""
    wanted = set(user_ids)
    if not wanted:
        return []
    return list((await session.scalars(select(User).where(User.id.in_(wanted)))).unique())


async def find_or_register_patient(
    *,
    session: AsyncSession,
    actor: audit.Actor,
    phone: str,
    name: str,
) -> User:
    """The patient with this phone number, or a new one the front desk registers for a
    walk-in (they sign in later with a code sent to that phone)."""
    access.require_front_desk(actor)
    user = await session.scalar(select(User).where(User.phone == phone))
    if user is None:
        return await create_patient_from_phone(session, phone=phone, name=name, registered_by=actor)
    if user.role is not Role.patient or not user.is_active:
        raise AppError(
            ErrorCode.phone_taken,
            _("That phone number belongs to an account that is not a patient's."),
        )
    return user


async def is_active(session: AsyncSession, user_id: uuid.UUID) -> bool:
    return bool(await session.scalar(select(User.is_active).where(User.id == user_id)))


async def find_patients(
    *, session: AsyncSession, actor: audit.Actor, query: str, limit: int = 20
) -> list[User]:
    """Active patients whose name or phone matches: the front desk's look-up.

    Digits match anywhere in the phone with a leading 0 dropped, so "0711 000 001" finds
    +254711000001.
    """
    access.require_front_desk(actor)
    text = query.strip()
    if not text:
        return []
    conditions = [func.lower(User.name).contains(text.lower(), autoescape=True)]
    digits = re.sub(r"\D", "", text).lstrip("0")
    if len(digits) >= 3:
        conditions.append(User.phone.contains(digits, autoescape=True))
    found = await session.scalars(
        select(User)
        .where(User.role == Role.patient, User.is_active.is_(True), or_(*conditions))
        .order_by(User.name, User.id)
        .limit(limit)
    )
    return list(found.unique())


async def active_admins(session: AsyncSession) -> list[User]:
    """Who runs the clinic now: those told what only admins are told (the weekly report)."""
    rows = await session.scalars(
        select(User).where(User.role == Role.admin, User.is_active.is_(True)).order_by(User.name)
    )
    return list(rows)
