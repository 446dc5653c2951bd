"""What a home page's figures are read with, and how they write days and times: in the
clinic's time zone and the reader's language."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic.schemas import ClinicProfile
from clinicflow.config import Settings
from clinicflow.core import moments
from clinicflow.deps import Viewer

# Figures no topic announces (notes written, failed deliveries, the audit chain) are read
# again this often; the others follow their topics.
POLL_SECONDS = 60


@dataclass(frozen=True)
class HomeRequest:
    request: Request
    session: AsyncSession
    settings: Settings
    clinic: ClinicProfile
    viewer: Viewer

    def time(self, at: datetime) -> str:
        """A time of today, as the clinic's clock shows it."""
        return moments.format_moment(at, self.clinic.zone, style="time")

    def day(self, at: datetime) -> str:
        """A day, like "Monday 2 March", in the reader's language and the clinic's zone."""
        return moments.format_moment(at, self.clinic.zone, style="day")

    def zone_label(self) -> str:
        return self.clinic.timezone


def live(topics: list[str]) -> dict[str, str | int]:
    """What the page's live block tells `home.js`: the topics to follow (no duplicates,
    in order) and how often to read again without news."""
    return {"topics": json.dumps(list(dict.fromkeys(topics))), "poll": POLL_SECONDS}
