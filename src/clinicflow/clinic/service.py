"""Reading and changing the clinic's settings.

Until an admin saves them, the clinic is what the environment says (`Settings`): a fresh
install starts from those values. Each save stores a complete new version (the newest is
the clinic now; older ones stay, append-only) and writes an audit row naming what changed.
The environment's values reach every session through `session.info` (`session_info`), so
a service deep below the routes reads the clinic with the session alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic import access, links
from clinicflow.clinic.models import ClinicSettings
from clinicflow.clinic.schemas import ClinicChanges, ClinicProfile
from clinicflow.config import Settings
from clinicflow.core import audit, clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.core.held import Held
from clinicflow.i18n import gettext as _

DEFAULTS_KEY = "clinicflow.clinic.defaults"
HELD_KEY = "clinicflow.clinic.held"
# How long a process answers requests from the clinic it read last. A save in this process
# is seen by its next request (`core.held`); one made by another process (a second server)
# within this time. Settings are changed by an admin now and then, never mid-visit.
HELD_SECONDS = 1.0
# The fields a save stores; `logo` is the stored file's name (`logo_url` is derived).
STORED = (
    "name",
    "address",
    "phone",
    "timezone",
    "public_url",
    "phone_region",
    "default_language",
    "logo",
    "notification_channels",
    "reminder_minutes",
    "hold_minutes",
    "cancellation_window_minutes",
    "no_show_grace_minutes",
)
LOGO_MAX_BYTES = 200 * 1024
# What a logo may be, told by its first bytes rather than by the name or type it came with;
# never SVG, which can carry script.
LOGO_KINDS = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpg", b"RIFF": "webp"}
LOGO_MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}


def session_info(defaults: Settings) -> dict[str, Any]:
    """What the runtime puts into every session's `info`: the environment's clinic, the
    defaults a fresh install starts from, and the process's last-read clinic."""
    held: Held[ClinicProfile] = Held([ClinicSettings.__tablename__], seconds=HELD_SECONDS)
    return {DEFAULTS_KEY: defaults, HELD_KEY: held}


def from_environment(defaults: Settings) -> ClinicProfile:
    """The clinic a fresh install starts as."""
    return ClinicProfile(
        name=defaults.clinic_name,
        address=defaults.clinic_address,
        phone=defaults.clinic_phone,
        timezone=defaults.clinic_timezone,
        configured_url=defaults.public_url.rstrip("/") if defaults.public_url else None,
        served_url=defaults.served_url or links.FALLBACK_URL,
        notification_channels=tuple(defaults.notification_channels),
        hold_minutes=defaults.hold_minutes,
        cancellation_window_minutes=defaults.cancellation_window_minutes,
    )


def _defaults(session: AsyncSession, defaults: Settings | None) -> Settings:
    if defaults is not None:
        return defaults
    handed: Settings | None = session.info.get(DEFAULTS_KEY)
    # A session the runtime did not build (a test's bare session) starts from the code's
    # defaults, never from a guess at the environment.
    return handed if handed is not None else Settings.model_construct()


def _values(profile: ClinicProfile) -> dict[str, Any]:
    logo = profile.logo_url.rsplit("/", 1)[-1] if profile.logo_url else None
    return {
        "name": profile.name,
        "address": profile.address,
        "phone": profile.phone,
        "timezone": profile.timezone,
        # "" when none is configured (the form's empty field).
        "public_url": profile.configured_url or "",
        "phone_region": profile.phone_region,
        "default_language": profile.default_language,
        "logo": logo,
        "notification_channels": list(profile.notification_channels),
        "reminder_minutes": list(profile.reminder_minutes),
        "hold_minutes": profile.hold_minutes,
        "cancellation_window_minutes": profile.cancellation_window_minutes,
        "no_show_grace_minutes": profile.no_show_grace_minutes,
    }


def _profile(values: Mapping[str, Any], version: int, served_url: str) -> ClinicProfile:
    logo = values.get("logo")
    return ClinicProfile(
        name=values["name"],
        address=values["address"],
        phone=values["phone"],
        timezone=values["timezone"],
        configured_url=values["public_url"] or None,
        phone_region=values["phone_region"],
        default_language=values["default_language"],
        logo_url=f"/clinic/logo/{logo}" if logo else None,
        notification_channels=tuple(values["notification_channels"]),
        reminder_minutes=tuple(values["reminder_minutes"]),
        hold_minutes=values["hold_minutes"],
        cancellation_window_minutes=values["cancellation_window_minutes"],
        no_show_grace_minutes=values["no_show_grace_minutes"],
        version=version,
        served_url=served_url,
    )


async def _latest(session: AsyncSession) -> ClinicSettings | None:
    return await session.scalar(
        select(ClinicSettings).order_by(ClinicSettings.version.desc()).limit(1)
    )


async def current(*, session: AsyncSession, defaults: Settings | None = None) -> ClinicProfile:
    """The clinic's settings now: the saved version, or the environment's until one is saved.

    One small query; `defaults` are the environment's values (the session's own when left
    out). A saved version is complete, so the environment no longer matters once saved.
    """
    base = from_environment(_defaults(session, defaults))
    row = await _latest(session)
    if row is None:
        return base
    # A field added after this version was saved takes the environment's value.
    return _profile({**_values(base), **row.values}, row.version, base.served_url)


async def current_held(*, session: AsyncSession) -> ClinicProfile:
    """The clinic for a request: as this process last read it, if that was within
    `HELD_SECONDS` and nothing here has saved it since; else `current`."""
    held: Held[ClinicProfile] | None = session.info.get(HELD_KEY)
    if held is None:
        return await current(session=session)
    profile = await held.read(HELD_KEY, lambda: current(session=session))
    return profile if profile is not None else await current(session=session)


async def read(
    *, session: AsyncSession, actor: Actor, defaults: Settings | None = None
) -> ClinicProfile:
    """The settings as the admin's form shows them."""
    access.require_settings_editor(actor)
    return await current(session=session, defaults=defaults)


def invalid(field: str, message: str, kind: str = "value_error") -> AppError:
    """The project's validation answer (422, `details.errors`), naming the field."""
    problem = {"loc": ["body", field], "message": message, "type": kind}
    return AppError(
        ErrorCode.validation_error,
        _("The request is not valid: {problems}").format(problems=f"{field}: {message}"),
        {"errors": [problem]},
    )


def validate(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes as the settings store them, or a 422 naming every bad field."""
    try:
        parsed = ClinicChanges.model_validate(dict(changes))
    except ValidationError as exc:
        problems = [
            {
                "loc": ["body", *(str(part) for part in error["loc"])],
                "message": error["msg"],
                "type": error["type"],
            }
            for error in exc.errors()
        ]
        summary = "; ".join(f"{'.'.join(p['loc'][1:])}: {p['message']}" for p in problems)
        raise AppError(
            ErrorCode.validation_error,
            _("The request is not valid: {problems}").format(problems=summary),
            {"errors": problems},
        ) from None
    return parsed.model_dump(exclude_unset=True, exclude_none=True)


async def update(
    *,
    session: AsyncSession,
    actor: Actor,
    changes: Mapping[str, Any],
    defaults: Settings | None = None,
) -> ClinicProfile:
    """Validate `changes` (any subset of the fields) and save them as a new version.

    Nothing changed: no new version, no audit row (saving the form twice is not a change).
    """
    access.require_settings_editor(actor)
    return await _save(session=session, actor=actor, changes=validate(changes), defaults=defaults)


async def _save(
    *,
    session: AsyncSession,
    actor: Actor,
    changes: Mapping[str, Any],
    defaults: Settings | None,
) -> ClinicProfile:
    before = await current(session=session, defaults=defaults)
    old = _values(before)
    new = {**old, **changes}
    changed = {key: {"from": old[key], "to": new[key]} for key in STORED if old[key] != new[key]}
    if not changed:
        return before
    row = ClinicSettings(
        version=before.version + 1, values=new, created_at=clock.now(), created_by_id=actor.id
    )
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise AppError(
            ErrorCode.settings_changed,
            _("The settings were changed meanwhile. Load them and try again."),
        ) from None
    await audit.record(
        session,
        action="clinic.settings_changed",
        resource_type="clinic_settings",
        resource_id=row.version,
        actor=actor,
        details={"changed": changed},
    )
    return _profile(new, row.version, before.served_url)


def _logo_kind(data: bytes) -> str | None:
    for magic, kind in LOGO_KINDS.items():
        if data.startswith(magic) and (kind != "webp" or data[8:12] == b"WEBP"):
            return kind
    return None


async def set_logo(
    *,
    session: AsyncSession,
    actor: Actor,
    var_dir: Path,
    data: bytes,
    defaults: Settings | None = None,
) -> ClinicProfile:
    """Store a new logo (a small PNG, JPEG or WebP) under `var_dir` and save it as a new
    version. The file's name is its content's hash, so a cached old logo never shows."""
    access.require_settings_editor(actor)
    if len(data) > LOGO_MAX_BYTES:
        raise invalid("logo", _("The logo must be at most 200 KB."), "too_large")
    kind = _logo_kind(data)
    if kind is None:
        raise invalid("logo", _("The logo must be a PNG, JPEG or WebP image."), "image_type")
    name = f"logo-{hashlib.sha256(data).hexdigest()[:20]}.{kind}"
    folder = logo_folder(var_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return await _save(session=session, actor=actor, changes={"logo": name}, defaults=defaults)


def logo_folder(var_dir: Path) -> Path:
    return var_dir / "clinic"


def logo_file(profile: ClinicProfile, var_dir: Path, name: str) -> tuple[Path, str] | None:
    """The current logo's file and media type when `name` is it; an old or made-up name
    finds nothing, so the route can serve no other file under `var_dir`."""
    if profile.logo_url is None or profile.logo_url.rsplit("/", 1)[-1] != name:
        return None
    path = logo_folder(var_dir) / name
    if not path.is_file():
        return None
    return path, LOGO_MEDIA_TYPES[name.rsplit(".", 1)[-1]]
