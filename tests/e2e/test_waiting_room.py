"""The waiting room never contradicts itself (issue 18), as the patient sees it on a phone
in Swahili: while the doctor is away the estimate says so instead of "about 0 min"; Join,
among the next 10 while someone else is with the doctor, never opens the doctor's live
meeting, and does once this patient is called; a booked visit's Check in says when it
opens; and a signed-out scan of the check-in QR code lands on the patient's phone sign-in
and comes back to the arrival page with the code kept."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.queue import service as queues
from clinicflow.queue.schemas import Severity
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import Mode
from tests.e2e.conftest import PHONE, LiveServer, StaffAccount
from tests.e2e.people import (
    Screenshot,
    in_server_db,
    keep_shot,
    newest_code,
    serious_problems,
    sign_in_patient,
    user_where,
)

pytestmark = pytest.mark.browser

ZONE = ZoneInfo("Africa/Nairobi")
MEET = "https://meet.google.com/abc-defg-hij"
WALK_IN = ("Baraka Mutua", "+254711000066")


@dataclass
class Day:
    doctor_id: uuid.UUID
    online_id: uuid.UUID
    with_doctor: uuid.UUID
    later_code: str
    later_opens: str


def _half_hour_after(at: datetime, minutes: int) -> datetime:
    later = at + timedelta(minutes=minutes)
    return later.replace(
        minute=0 if later.minute < 30 else 30, second=0, microsecond=0
    ) + timedelta(minutes=30)


def _seed_day(live_server: LiveServer, receptionist: StaffAccount) -> Day:
    """A walk-in with the doctor; the patient checked in for an online visit and next in
    line; the patient's second visit later today; the doctor's meeting link set."""
    now = datetime.now(UTC)
    soon = _half_hour_after(now, 10)
    # The second visit is later today, its check-in not open yet (it opens an hour before),
    # and inside the day's hours below (the last slot starts at 23:00 in Nairobi).
    last_start = now.astimezone(ZONE).replace(hour=23, minute=0, second=0, microsecond=0)
    fitting = [
        later
        for later in (_half_hour_after(now, 180), _half_hour_after(now, 120))
        if later <= last_start
    ]
    if not fitting:
        pytest.skip("too close to midnight in Nairobi for two more visits today")
    later = fitting[0]

    async def seed(session: AsyncSession, settings: Any) -> Day:
        doctor = await user_where(session, email=live_server.doctor.email)
        desk = await user_where(session, email=receptionist.email)
        patient = await user_where(session, phone=live_server.patient.phone)
        await scheduling.set_availability(
            session=session,
            actor=doctor,
            doctor_id=doctor.id,
            timezone="Africa/Nairobi",
            slot_minutes=30,
            weekly={
                day: [("00:00", "23:30")]
                for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            },
            exceptions=[],
        )
        await queues.set_meet_link(
            session=session, actor=doctor, doctor_id=doctor.id, meet_url=MEET
        )
        await queues.walk_in(
            session=session,
            actor=desk,
            doctor_id=doctor.id,
            phone=WALK_IN[1],
            name=WALK_IN[0],
            severity=Severity.routine,
            patient_type=None,
        )
        online = await scheduling.book(
            session=session,
            settings=settings,
            actor=patient,
            doctor_id=doctor.id,
            starts_at=soon,
            mode=Mode.online,
        )
        second = await scheduling.book(
            session=session,
            settings=settings,
            actor=patient,
            doctor_id=doctor.id,
            starts_at=later,
            mode=Mode.in_person,
        )
        await queues.check_in(
            session=session, settings=settings, actor=desk, appointment_id=online.id
        )
        _state, called = await queues.call_next(session=session, actor=doctor, doctor_id=doctor.id)
        opens = (later - timedelta(minutes=60)).astimezone(ZONE)
        return Day(
            doctor.id,
            online.id,
            called.id,
            queues.check_in_code(settings, second.id),
            f"{opens:%H:%M}",
        )

    day: Day = in_server_db(live_server, seed)
    return day


def _set_away(live_server: LiveServer, day: Day, away: bool) -> None:
    async def sweep(session: AsyncSession, settings: Any) -> int:
        today = datetime.now(UTC).astimezone(ZONE).date()
        present = set() if away else {(day.doctor_id, today)}
        return await queues.mark_doctors_away(
            session=session, present=present, away_after=timedelta(0)
        )

    in_server_db(live_server, sweep)


def _in_swahili(page: Page) -> None:
    page.locator("form[data-testid=language-switch] button[value=sw]").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "sw"


def test_the_waiting_room_tells_the_truth_on_a_phone_in_swahili(
    phone_page: Page, live_server: LiveServer, receptionist: StaffAccount, screenshot: Screenshot
) -> None:
    page = phone_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    day = _seed_day(live_server, receptionist)
    sign_in_patient(page, live_server, live_server.patient.phone)
    _in_swahili(page)

    # The doctor is away: no minutes and no clock time, one sentence that says why.
    _set_away(live_server, day, away=True)
    page.goto("/queue")
    place = page.get_by_test_id("place")
    expect(place.get_by_test_id("position")).to_have_text("Wewe ndiye unayefuata.")
    estimate = place.get_by_test_id("estimate")
    expect(estimate).to_have_text("Tunamsubiri daktari arudi", use_inner_text=True)
    expect(estimate.locator("[data-estimate-time]")).to_be_hidden()
    expect(place.get_by_test_id("doctor-state")).to_have_text("Daktari hayupo kwa sasa.")

    # Next in line while someone else is with the doctor: Join does not open their meeting.
    join = place.get_by_test_id("join")
    expect(join).to_have_attribute("aria-disabled", "true")
    assert join.get_attribute("href") == "#"
    assert MEET not in page.content()
    expect(place).to_contain_text("Daktari atatuma kiungo utakapoitwa.")

    # The visit later today: Check in says when it opens instead of offering a refusal.
    card = page.get_by_test_id("check-in")
    expect(card.get_by_test_id("check-in-submit")).to_be_disabled()
    expect(card.get_by_test_id("check-in-opens")).to_have_text(
        f"Kuingia kunafunguliwa saa {day.later_opens}."
    )
    assert serious_problems(page) == []
    keep_shot(screenshot, page, "waiting-room-sw-doctor-away")

    # The doctor is back: the estimate is a time again. Next in line, it has run out, so
    # it says "any moment now" rather than "about 0 min".
    _set_away(live_server, day, away=False)
    page.reload()
    expect(page.get_by_test_id("estimate")).to_contain_text("Wakati wowote sasa · karibu saa")
    expect(page.get_by_test_id("estimate")).not_to_contain_text("dakika 0")

    # This patient is called: now Join opens their visit, whose page holds the meeting link.
    async def call(session: AsyncSession, settings: Any) -> str:
        doctor = await user_where(session, email=live_server.doctor.email)
        await queues.finish(session=session, actor=doctor, entry_id=day.with_doctor)
        _state, entry = await queues.call_next(session=session, actor=doctor, doctor_id=doctor.id)
        return f"/consultations/{entry.consultation_id}"

    visit = in_server_db(live_server, call)
    page.reload()
    place = page.get_by_test_id("place")
    join = place.get_by_test_id("join")
    expect(join).to_have_attribute("aria-disabled", "false")
    assert join.get_attribute("href") == visit
    expect(place.get_by_test_id("your-turn")).to_be_visible()
    keep_shot(screenshot, page, "waiting-room-sw-called")
    assert errors == []


def test_a_signed_out_scan_signs_the_patient_in_and_keeps_the_code(
    browser: Browser, live_server: LiveServer, receptionist: StaffAccount, screenshot: Screenshot
) -> None:
    day = _seed_day(live_server, receptionist)
    context = browser.new_context(
        base_url=live_server.base_url,
        locale="en-US",
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    try:
        page = context.new_page()
        page.goto("/login/phone")
        _in_swahili(page)
        page.goto(f"/queue/arrive?code={day.later_code}")
        page.wait_for_url("**/login/phone")
        expect(page.locator("main h1")).to_have_text("Kuingia kwa wagonjwa")
        keep_shot(screenshot, page, "arrival-sw-signed-out")
        phone = live_server.patient.phone
        page.locator("form[action='/login/phone'] input[name=phone]").fill(phone)
        page.locator("form[action='/login/phone'] button[type=submit]").click()
        page.wait_for_url(re.compile(r"/login/phone/verify\?phone="))
        form = page.locator("form[action='/login/phone/verify']")
        form.locator("input[name=code]").fill(newest_code(page, live_server, phone))
        form.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(rf"/queue/arrive\?code={day.later_code}$"))
        expect(page.locator(f"input[name=code][value='{day.later_code}']")).to_have_count(1)
        assert serious_problems(page) == []
        keep_shot(screenshot, page, "arrival-sw-after-sign-in")
    finally:
        context.close()
