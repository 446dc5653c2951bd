"""The clinic's settings as the rest of the product reads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo


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
    public_url: str
    phone_region: str = "KE"
    default_language: str = "en"
    logo_url: str | None = None
    notification_channels: tuple[str, ...] = ("in_app", "sms", "push", "email")
    # Minutes before an appointment at which reminders go out.
    reminder_minutes: tuple[int, ...] = (24 * 60, 60)
    hold_minutes: int = 5
    cancellation_window_minutes: int = 60
    no_show_grace_minutes: int = 10
    version: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
