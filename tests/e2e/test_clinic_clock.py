"""Chat bubbles show the clinic's time, not the phone's: a patient whose browser is set to
New York reads the doctor's message at the time the clinic's clock (Nairobi) showed, on a
24-hour clock, in English and in Swahili."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationType
from clinicflow.core import clock
from clinicflow.identity.models import User
from clinicflow.runtime import build_runtime
from tests.e2e.conftest import PHONE, LiveServer, _in_own_thread
from tests.e2e.people import sign_in_patient

pytestmark = pytest.mark.browser

BROWSER_ZONE = "America/New_York"


def _sent_at() -> datetime:
    """21:05 UTC yesterday: 00:05 today in Nairobi, the afternoon before in New York."""
    return (clock.now() - timedelta(days=1)).replace(hour=21, minute=5, second=0, microsecond=0)


async def _a_message_from_the_doctor(live_server: LiveServer, at: datetime) -> uuid.UUID:
    """A chat the doctor accepted and wrote in at `at` (the process's clock, frozen there)."""
    runtime = build_runtime(live_server.settings)
    clock.set_source(clock.FrozenClock(at))
    try:
        async with runtime.transaction() as session:
            patient = await session.scalar(
                select(User).where(User.phone == live_server.patient.phone)
            )
            doctor = await session.scalar(
                select(User).where(User.email == live_server.doctor.email)
            )
            assert patient is not None
            assert doctor is not None
            started = await consultations.start(
                session=session,
                actor=patient,
                doctor_id=doctor.id,
                problem="A cough at night",
                type=ConsultationType.chat,
                max_pending=10,
            )
        async with runtime.transaction() as session:
            await consultations.accept(session=session, actor=doctor, consultation_id=started.id)
        async with runtime.transaction() as session:
            await consultations.send_message(
                session=session,
                actor=doctor,
                consultation_id=started.id,
                client_id="clinic-clock-1",
                body="How long has it lasted?",
            )
        return started.id
    finally:
        clock.reset()
        await runtime.close()


def test_chat_bubbles_show_the_clinics_time_whatever_the_phones_zone(
    browser: Browser, live_server: LiveServer
) -> None:
    at = _sent_at()
    made: list[uuid.UUID] = []
    _in_own_thread(lambda: made.append(asyncio.run(_a_message_from_the_doctor(live_server, at))))
    clinic_time = f"{at.astimezone(ZoneInfo(live_server.settings.clinic_timezone)):%H:%M}"
    phone_time = f"{at.astimezone(ZoneInfo(BROWSER_ZONE)):%H:%M}"
    assert clinic_time == "00:05"
    assert clinic_time != phone_time

    context = browser.new_context(
        base_url=live_server.base_url,
        locale="en-US",
        timezone_id=BROWSER_ZONE,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(10_000)
    try:
        page: Page = context.new_page()
        assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == BROWSER_ZONE
        sign_in_patient(page, live_server, live_server.patient.phone)
        page.goto(f"/consultations/{made[0]}")
        meta = page.locator("[data-testid=messages] li.theirs small")
        expect(meta).to_have_count(1)
        expect(meta).to_contain_text(clinic_time)
        assert phone_time not in meta.inner_text()
        assert "PM" not in meta.inner_text()
        assert "AM" not in meta.inner_text()

        # In Swahili the same moment, the same 24-hour clinic clock.
        context.add_cookies([{"name": "cf_lang", "value": "sw", "url": live_server.base_url}])
        page.reload()
        expect(page.locator("html")).to_have_attribute("lang", "sw")
        expect(meta).to_contain_text(clinic_time)
        assert phone_time not in meta.inner_text()
    finally:
        context.close()
