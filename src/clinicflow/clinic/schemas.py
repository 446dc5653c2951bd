"""The clinic's settings as the rest of the product reads them, and as the admin changes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from clinicflow.clinic import links
from clinicflow.core.schemas import StrictModel
from clinicflow.i18n import LANGUAGES

# The channels the product can send on (notifications.schemas.Channel's values: the clinic
# sits below notifications and cannot import it). In-app is always on.
KNOWN_CHANNELS: tuple[str, ...] = ("in_app", "sms", "push", "email")
ALWAYS_ON_CHANNEL = "in_app"


@dataclass(frozen=True)
class ClinicProfile:
    """One version of the clinic's settings.

    Every domain reads the clinic through this snapshot, taken once per request or job, so
    one page never mixes two versions (a time zone changed halfway through a PDF).
    """

    name: str
    address: str
    phone: str
    timezone: str
    # The public address an admin or the environment configured; None: not configured, so
    # links follow the request or the serving process (`public_url`).
    configured_url: str | None
    phone_region: str = "KE"
    default_language: str = "en"
    logo_url: str | None = None
    notification_channels: tuple[str, ...] = KNOWN_CHANNELS
    # Minutes before an appointment at which reminders go out.
    reminder_minutes: tuple[int, ...] = (24 * 60, 60)
    hold_minutes: int = 5
    cancellation_window_minutes: int = 60
    no_show_grace_minutes: int = 10
    version: int = 0
    extra: dict[str, str] = field(default_factory=dict)
    # Where links made outside a request point when no address is configured.
    served_url: str = links.FALLBACK_URL

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def public_url(self) -> str:
        """The base of every link the clinic hands out: the configured address, else the
        address of the request being answered, else where this process serves."""
        return self.configured_url or links.request_base() or self.served_url


def _zone_name(value: str) -> str:
    # A typo would print every time on every paper in UTC without a word; refuse it. Only
    # names in the IANA database: ZoneInfo would also open a file path like "../../etc".
    if value not in available_timezones():
        raise ValueError("not an IANA time zone name, like Africa/Nairobi")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not an IANA time zone name, like Africa/Nairobi") from None
    return value


def _public_address(value: str) -> str:
    # Empty: no public address, so links follow the request (`clinic.links`).
    return _web_address(value) if value.strip() else ""


def _web_address(value: str) -> str:
    # Links in SMS, QR codes and PDFs open this: another scheme (javascript:, file:) or a
    # link with no host would be a broken or dangerous link on paper.
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// address with a host")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("must be a plain address without query, fragment or login")
    return value.rstrip("/")


def _region(value: str) -> str:
    region = value.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("not a phone region, like KE or TZ")
    return region


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"one of {', '.join(LANGUAGES)}")
    return value


def _channels(value: list[str]) -> list[str]:
    unknown = [channel for channel in value if channel not in KNOWN_CHANNELS]
    if unknown:
        raise ValueError(f"unknown channel {unknown[0]!r}; known: {', '.join(KNOWN_CHANNELS)}")
    chosen = {ALWAYS_ON_CHANNEL, *value}
    return [channel for channel in KNOWN_CHANNELS if channel in chosen]


def _reminders(value: list[int]) -> list[int]:
    return sorted(set(value), reverse=True)


CHECKS: dict[str | None, Callable[[Any], Any]] = {
    "timezone": _zone_name,
    "public_url": _public_address,
    "phone_region": _region,
    "default_language": _language,
    "notification_channels": _channels,
    "reminder_minutes": _reminders,
}

Text = Annotated[str, Field(min_length=1, max_length=200)]
OptionalText = Annotated[str, Field(max_length=300)]
# A reminder from a minute up to two weeks ahead.
ReminderMinutes = Annotated[int, Field(gt=0, le=14 * 24 * 60)]


class ClinicChanges(StrictModel):
    """What an admin changes (`PUT /api/admin/clinic`): every field is optional, and a field
    left out (or null) keeps its value, so a client that sends the whole object and one that
    sends only the time zone both work."""

    name: Text | None = None
    address: OptionalText | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    timezone: str | None = None
    public_url: Annotated[str, Field(max_length=300)] | None = None
    phone_region: str | None = None
    default_language: str | None = None
    notification_channels: list[str] | None = None
    reminder_minutes: Annotated[list[ReminderMinutes], Field(max_length=5)] | None = None
    hold_minutes: Annotated[int, Field(gt=0, le=120)] | None = None
    cancellation_window_minutes: Annotated[int, Field(ge=0, le=14 * 24 * 60)] | None = None
    no_show_grace_minutes: Annotated[int, Field(ge=0, le=240)] | None = None

    @field_validator(
        "timezone",
        "public_url",
        "phone_region",
        "default_language",
        "notification_channels",
        "reminder_minutes",
    )
    @classmethod
    def _check(cls, value: Any, info: ValidationInfo) -> Any:
        # null is the same as leaving the field out: it keeps its value.
        if value is None:
            return None
        return CHECKS[info.field_name](value)


class ClinicOut(BaseModel):
    """`GET /api/admin/clinic`: the settings now, and their version (0: never saved)."""

    name: str
    address: str
    phone: str
    timezone: str
    # null: none configured, so links follow the address each request came to.
    public_url: str | None
    phone_region: str
    default_language: str
    logo_url: str | None
    notification_channels: list[str]
    reminder_minutes: list[int]
    hold_minutes: int
    cancellation_window_minutes: int
    no_show_grace_minutes: int
    version: int

    @classmethod
    def of(cls, profile: ClinicProfile) -> ClinicOut:
        return cls(
            name=profile.name,
            address=profile.address,
            phone=profile.phone,
            timezone=profile.timezone,
            public_url=profile.configured_url,
            phone_region=profile.phone_region,
            default_language=profile.default_language,
            logo_url=profile.logo_url,
            notification_channels=list(profile.notification_channels),
            reminder_minutes=list(profile.reminder_minutes),
            hold_minutes=profile.hold_minutes,
            cancellation_window_minutes=profile.cancellation_window_minutes,
            no_show_grace_minutes=profile.no_show_grace_minutes,
            version=profile.version,
        )
