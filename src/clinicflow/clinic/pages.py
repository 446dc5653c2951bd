"""The clinic's settings page (`/admin/clinic`) and the clinic's logo.

The form posts every field; a refused save draws the form again with each problem beside
its field and everything typed kept. The queue's rules are the queue's section of the same
page (`queue/pages/rules.py`), drawn into it by htmx: the clinic sits below the queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response

from clinicflow.clinic import service as clinic
from clinicflow.clinic.schemas import KNOWN_CHANNELS, ClinicProfile
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.deps import Clinic, CsrfProtected, PageViewer, Session, SettingsDep
from clinicflow.i18n import LANGUAGES
from clinicflow.i18n import gettext as _
from clinicflow.routing import TransactionalRoute
from clinicflow.web.templating import drop_refused_changes, render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)
TEMPLATE = "clinic/settings.html"
NUMBERS = ("hold_minutes", "cancellation_window_minutes", "no_show_grace_minutes")
TEXTS = ("name", "address", "phone", "timezone", "public_url", "phone_region", "default_language")


@dataclass(frozen=True)
class SettingsForm:
    """The form as typed (or as stored, to begin with): strings, so nothing typed is lost."""

    name: str = ""
    address: str = ""
    phone: str = ""
    timezone: str = ""
    public_url: str = ""
    phone_region: str = ""
    default_language: str = ""
    notification_channels: tuple[str, ...] = ()
    reminder_minutes: str = ""
    hold_minutes: str = ""
    cancellation_window_minutes: str = ""
    no_show_grace_minutes: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def _form_of(profile: ClinicProfile) -> SettingsForm:
    return SettingsForm(
        name=profile.name,
        address=profile.address,
        phone=profile.phone,
        timezone=profile.timezone,
        public_url=profile.configured_url or "",
        phone_region=profile.phone_region,
        default_language=profile.default_language,
        notification_channels=profile.notification_channels,
        reminder_minutes=", ".join(str(m) for m in profile.reminder_minutes),
        hold_minutes=str(profile.hold_minutes),
        cancellation_window_minutes=str(profile.cancellation_window_minutes),
        no_show_grace_minutes=str(profile.no_show_grace_minutes),
    )


def field_problem(name: str) -> str:
    """What to do about a refused field, in the reader's language."""
    problems = {
        "name": _("Enter the clinic's name."),
        "address": _("The address is too long."),
        "phone": _("The phone number is too long."),
        "timezone": _("Choose a time zone from the list, like Africa/Nairobi."),
        "public_url": _("Enter an address that starts with http:// or https://."),
        "phone_region": _("Enter a two-letter region, like KE or TZ."),
        "default_language": _("Choose a language from the list."),
        "notification_channels": _("Choose channels from the list."),
        "reminder_minutes": _(
            "Enter minutes before the visit, separated by commas, like 1440, 60."
        ),
        "hold_minutes": _("Enter whole minutes, from 1 to 120."),
        "cancellation_window_minutes": _("Enter whole minutes, 0 or more."),
        "no_show_grace_minutes": _("Enter whole minutes, from 0 to 240."),
        "logo": _("The logo must be a PNG, JPEG or WebP image of at most 200 KB."),
    }
    return problems.get(name, _("Check this value."))


async def _read_form(request: Request) -> tuple[SettingsForm, dict[str, Any]]:
    """The form as typed, and the changes it asks for; a number that is not one is a
    problem of its field here, before the service sees it."""
    form = await request.form()
    typed: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in (*TEXTS, *NUMBERS)}
    typed["reminder_minutes"] = str(form.get("reminder_minutes") or "").strip()
    channels = tuple(str(value) for value in form.getlist("notification_channels"))
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {name: typed[name] for name in TEXTS}
    for name in NUMBERS:
        try:
            changes[name] = int(typed[name])
        except ValueError:
            errors[name] = field_problem(name)
    try:
        parts = [part.strip() for part in typed["reminder_minutes"].split(",")]
        changes["reminder_minutes"] = [int(part) for part in parts if part]
    except ValueError:
        errors["reminder_minutes"] = field_problem("reminder_minutes")
    changes["notification_channels"] = list(channels)
    shown = SettingsForm(**typed, notification_channels=channels, errors=errors)
    return shown, changes


def _context(profile: ClinicProfile, form: SettingsForm, **extra: Any) -> dict[str, Any]:
    return {
        "clinic": profile,
        "form": form,
        "zones": sorted(available_timezones()),
        "languages": LANGUAGES,
        "channels": {
            "in_app": _("In the app"),
            "sms": _("SMS"),
            "push": _("Push notifications"),
            "email": _("Email"),
        },
        "known_channels": KNOWN_CHANNELS,
        **extra,
    }


@router.get("/admin/clinic")
async def settings_page(request: Request, session: Session, viewer: PageViewer) -> Response:
    profile = await clinic.read(session=session, actor=viewer)
    saved = request.query_params.get("saved")
    return render(request, TEMPLATE, _context(profile, _form_of(profile), saved=saved))


@router.post("/admin/clinic", dependencies=[CsrfProtected])
async def save_settings(request: Request, session: Session, viewer: PageViewer) -> Response:
    form, changes = await _read_form(request)
    if not form.errors:
        try:
            await clinic.update(session=session, actor=viewer, changes=changes)
        except AppError as exc:
            if exc.code is not ErrorCode.validation_error:
                raise
            await drop_refused_changes(session, exc)
            fields = {str(e["loc"][1]) for e in exc.details.get("errors", []) if len(e["loc"]) > 1}
            form = replace(form, errors={name: field_problem(name) for name in fields})
        else:
            return RedirectResponse("/admin/clinic?saved=settings", status_code=303)
    profile = await clinic.read(session=session, actor=viewer)
    return render(
        request,
        TEMPLATE,
        _context(profile, form, error=_("Some fields need a change. See the notes below them.")),
        status_code=422,
    )


@router.post("/admin/clinic/logo", dependencies=[CsrfProtected])
async def save_logo(
    request: Request, session: Session, settings: SettingsDep, viewer: PageViewer
) -> Response:
    upload = (await request.form()).get("logo")
    data = await upload.read(clinic.LOGO_MAX_BYTES + 1) if isinstance(upload, UploadFile) else b""
    try:
        await clinic.set_logo(session=session, actor=viewer, var_dir=settings.var_dir, data=data)
    except AppError as exc:
        if exc.code is not ErrorCode.validation_error:
            raise
        await drop_refused_changes(session, exc)
        profile = await clinic.read(session=session, actor=viewer)
        form = replace(_form_of(profile), errors={"logo": field_problem("logo")})
        return render(request, TEMPLATE, _context(profile, form), status_code=422)
    return RedirectResponse("/admin/clinic?saved=logo", status_code=303)


@router.get("/clinic/logo/{name}")
async def logo(name: str, profile: Clinic, settings: SettingsDep) -> Response:
    """The clinic's current logo: public, since pages and papers anyone reads show it. Its
    name is its content's hash, so it may be cached for good."""
    found = clinic.logo_file(profile, settings.var_dir, name)
    if found is None:
        raise not_found()
    path, media_type = found
    return FileResponse(
        path, media_type=media_type, headers={"Cache-Control": "public, max-age=31536000"}
    )
