"""Today's booked appointments as check-in cards (time, mode, short code, QR), and the QR
codes that open the arrival page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

import qrcode  # type: ignore[import-untyped]
import qrcode.image.svg  # type: ignore[import-untyped]
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic import service as clinic
from clinicflow.config import Settings
from clinicflow.core import clock, moments
from clinicflow.core.audit import Actor
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.queue import service as queues
from clinicflow.scheduling.schemas import Mode

APPOINTMENT_LIMIT = 200


@dataclass(frozen=True)
class CheckInCard:
    appointment_id: uuid.UUID
    doctor: str
    patient: str
    time: str
    mode: Mode
    code: str
    qr: Markup | None
    # When this reader may check it in (`queues.check_in_opens_at`), and whether it is open now.
    opens_at: datetime
    opens_at_label: str
    is_open: bool


def arrival_url(public_url: str, code: str | None = None) -> str:
    """The absolute address a check-in QR code opens (`public_url`: the clinic's)."""
    base = public_url.rstrip("/") + "/queue/arrive"
    return f"{base}?{urlencode({'code': code})}" if code else base


def qr_svg(data: str, label: str) -> Markup:
    """An inline SVG QR code of `data`, drawn on the server (no image file, no script)."""
    code = qrcode.QRCode(border=2, image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(data)
    code.make(fit=True)
    svg: str = code.make_image().to_string(encoding="unicode")
    # Drop the fixed millimetre size so CSS sizes it; say what it is to screen readers.
    start = svg.index("<svg") + len("<svg")
    head, rest = svg[:start], svg[start:]
    for attribute in ("width", "height"):
        at = rest.find(f' {attribute}="')
        if at != -1:
            end = rest.index('"', at + len(attribute) + 3)
            rest = rest[:at] + rest[end + 1 :]
    escaped = Markup.escape(label)
    return Markup(f'{head} class="qr" role="img" aria-label="{escaped}"{rest}')  # noqa: S704


async def todays_appointments(
    session: AsyncSession, actor: Actor, settings: Settings, *, with_qr: bool
) -> list[CheckInCard]:
    """Booked appointments on their doctor's today that the actor may see, to check in."""
    found = await queues.appointments_to_check_in(session, actor, limit=APPOINTMENT_LIMIT)
    people = await identity.names(
        session, {a.doctor_id for a, _zone in found} | {a.patient_id for a, _zone in found}
    )
    profile = await clinic.current(session=session, defaults=settings)
    public_url = profile.public_url
    cards = []
    now = clock.now()
    for appointment, _zone in found:
        code = queues.check_in_code(settings, appointment.id)
        opens_at = await queues.check_in_opens_at(session, appointment)
        cards.append(
            CheckInCard(
                appointment_id=appointment.id,
                doctor=people.get(appointment.doctor_id, ""),
                patient=people.get(appointment.patient_id, ""),
                # The doctor's zone chose the day; the clock a person reads is the clinic's.
                time=moments.format_moment(appointment.starts_at, profile.zone, style="time"),
                mode=Mode(appointment.mode),
                code=code,
                qr=qr_svg(
                    arrival_url(public_url, code), _("Check-in code {code}").format(code=code)
                )
                if with_qr
                else None,
                opens_at=opens_at,
                opens_at_label=moments.format_moment(opens_at, profile.zone, style="time"),
                is_open=now >= opens_at,
            )
        )
    return cards
