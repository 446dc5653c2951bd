"""Doctors' profiles as patients see them, and the specialty list the admin keeps.

An admin changes every field of any doctor's profile; a doctor their own bio, languages
and photo (`access.doctor_profile_fields`). The meeting link is not here: the queue owns
who may change it and tells waiting patients (`PUT /api/doctors/{id}/meet-link`), and it
writes the row through `profiles.set_meet_url`.

A photo is a small JPEG, PNG or WebP kept under `var_dir/photos` with a new random name
for each upload (so a cached old photo is never shown for the new one); the old file is
removed only once the change commits.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import db
from clinicflow.core import audit, clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity import access
from clinicflow.identity.models import DoctorProfile, Specialty, User
from clinicflow.identity.schemas import Role

PHOTO_MAX_BYTES = 512 * 1024
PHOTO_DIR = "photos"
# The first bytes of each accepted image type, and the extension its file gets.
PHOTO_TYPES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
)
MEDIA_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


# --- the specialty list --------------------------------------------------------------------------


async def specialties(*, session: AsyncSession, include_retired: bool = False) -> list[Specialty]:
    """The list, by English name; retired ones only when asked (the admin's page)."""
    statement = select(Specialty).order_by(Specialty.name_en)
    if not include_retired:
        statement = statement.where(Specialty.retired_at.is_(None))
    return list(await session.scalars(statement))


async def _name_free(session: AsyncSession, name_en: str, exclude: uuid.UUID | None) -> None:
    statement = select(func.count()).select_from(Specialty)
    # The exact name is what the unique index holds; SQLite's lower() folds ASCII only, so
    # the case-blind comparison alone would let "Ú…" through twice.
    statement = statement.where(
        or_(Specialty.name_en == name_en, func.lower(Specialty.name_en) == name_en.lower())
    )
    if exclude is not None:
        statement = statement.where(Specialty.id != exclude)
    if await session.scalar(statement):
        raise AppError(
            ErrorCode.validation_error,
            _("That specialty is already on the list."),
            {"field": "name_en"},
        )


async def add_specialty(
    *, session: AsyncSession, actor: Actor, name_en: str, name_sw: str
) -> Specialty:
    access.require_specialty_keeper(actor)
    await _name_free(session, name_en, None)
    specialty = Specialty(name_en=name_en, name_sw=name_sw, created_at=clock.now())
    session.add(specialty)
    await session.flush()
    await audit.record(
        session,
        action="specialty.create",
        resource_type="specialty",
        resource_id=specialty.id,
        actor=actor,
        details={"name_en": name_en, "name_sw": name_sw},
    )
    return specialty


async def update_specialty(
    *,
    session: AsyncSession,
    actor: Actor,
    specialty_id: uuid.UUID,
    name_en: str | None = None,
    name_sw: str | None = None,
    retired: bool | None = None,
) -> Specialty:
    """Rename, retire or bring back a specialty. A renamed one keeps its doctors, whose
    free-text name follows the English name."""
    access.require_specialty_keeper(actor)
    specialty = await session.get(Specialty, specialty_id)
    if specialty is None:
        raise not_found()
    if name_en is not None and name_en != specialty.name_en:
        await _name_free(session, name_en, specialty.id)
        specialty.name_en = name_en
        doctors = await session.scalars(
            select(DoctorProfile).where(DoctorProfile.specialty_id == specialty.id)
        )
        for profile in doctors:
            profile.specialty_text = name_en
    if name_sw is not None:
        specialty.name_sw = name_sw
    if retired is not None and retired != specialty.retired:
        specialty.retired_at = clock.now() if retired else None
        await audit.record(
            session,
            action="specialty.retire" if retired else "specialty.restore",
            resource_type="specialty",
            resource_id=specialty.id,
            actor=actor,
        )
    if name_en is not None or name_sw is not None:
        await audit.record(
            session,
            action="specialty.rename",
            resource_type="specialty",
            resource_id=specialty.id,
            actor=actor,
            details={"name_en": specialty.name_en, "name_sw": specialty.name_sw},
        )
    await session.flush()
    return specialty


# --- a doctor's profile -----------------------------------------------------------------------------


async def _doctor(session: AsyncSession, doctor_id: uuid.UUID) -> User:
    user = await session.get(User, doctor_id)
    if user is None or user.role is not Role.doctor or user.doctor is None:
        raise not_found()
    return user


async def doctor_for_editing(*, session: AsyncSession, actor: Actor, doctor_id: uuid.UUID) -> User:
    """The doctor whose profile the actor may change something of; not found otherwise."""
    access.require_doctor_profile_editor(actor, doctor_id, set())
    return await _doctor(session, doctor_id)


async def update_doctor_profile(
    *, session: AsyncSession, actor: Actor, doctor_id: uuid.UUID, changes: dict[str, Any]
) -> User:
    """Apply the fields sent (each checked against what the actor may change); the audit
    row names the fields, never their values."""
    access.require_doctor_profile_editor(actor, doctor_id, set(changes))
    user = await _doctor(session, doctor_id)
    profile = user.doctor
    assert profile is not None  # _doctor guarantees it
    edited: list[str] = []
    if "specialty_id" in changes and changes["specialty_id"] != profile.specialty_id:
        chosen = changes["specialty_id"]
        specialty = await session.get(Specialty, chosen) if chosen else None
        if chosen and (specialty is None or specialty.retired):
            raise AppError(
                ErrorCode.validation_error,
                _("Choose a specialty from the list."),
                {"field": "specialty_id"},
            )
        profile.specialty_id = chosen
        profile.specialty_ref = specialty
        if specialty is not None:
            profile.specialty_text = specialty.name_en
        edited.append("specialty_id")
    for field in ("languages", "bio", "registration_number", "consultation_minutes"):
        if (
            field in changes
            and changes[field] is not None
            and changes[field] != getattr(profile, field)
        ):
            setattr(profile, field, changes[field])
            edited.append(field)
    kinds = changes.get("consultation_types")
    if kinds is not None and [str(k) for k in kinds] != profile.consultation_types:
        profile.consultation_types = [str(k) for k in kinds]
        edited.append("consultation_types")
    if edited:
        user.updated_at = clock.now()
        await audit.record(
            session,
            action="doctor_profile.update",
            resource_type="user",
            resource_id=doctor_id,
            actor=actor,
            details={"fields": sorted(edited)},
        )
    await session.flush()
    return user


def _photo_kind(data: bytes) -> str:
    for magic, extension in PHOTO_TYPES:
        if data.startswith(magic):
            return extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    raise AppError(
        ErrorCode.unsupported_file_type,
        _("Upload a JPEG, PNG or WebP photo."),
        {"field": "photo"},
    )


async def set_doctor_photo(
    *, session: AsyncSession, actor: Actor, doctor_id: uuid.UUID, data: bytes, var_dir: Path
) -> User:
    """Store a new photo (up to 512 KB, JPEG, PNG or WebP) in place of the old one."""
    access.require_doctor_profile_editor(actor, doctor_id, {"photo"})
    user = await _doctor(session, doctor_id)
    profile = user.doctor
    assert profile is not None  # _doctor guarantees it
    if len(data) > PHOTO_MAX_BYTES:
        raise AppError(
            ErrorCode.file_too_large,
            _("The photo must be at most 512 KB."),
            {"field": "photo", "max_bytes": PHOTO_MAX_BYTES},
        )
    name = f"{doctor_id}-{secrets.token_hex(8)}{_photo_kind(data)}"
    folder = var_dir / PHOTO_DIR
    await asyncio.to_thread(_write, folder / name, data)
    old = profile.photo
    profile.photo = name
    if old:

        async def remove_old() -> None:
            await asyncio.to_thread((folder / old).unlink, missing_ok=True)

        db.after_commit(session, remove_old)
    await audit.record(
        session,
        action="doctor_profile.update",
        resource_type="user",
        resource_id=doctor_id,
        actor=actor,
        details={"fields": ["photo"]},
    )
    await session.flush()
    return user


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def doctor_photo(
    *, session: AsyncSession, doctor_id: uuid.UUID, var_dir: Path
) -> tuple[Path, str] | None:
    """The active doctor's photo file and its media type (patients see it when booking)."""
    user = await session.get(User, doctor_id)
    if user is None or user.role is not Role.doctor or not user.is_active or user.doctor is None:
        return None
    name = user.doctor.photo
    if not name:
        return None
    path = var_dir / PHOTO_DIR / name
    return (path, MEDIA_TYPES[path.suffix]) if await asyncio.to_thread(path.is_file) else None
