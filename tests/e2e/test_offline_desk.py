"""Working offline (issue 19): the desk registers walk-ins with no network, reloads while
still offline and goes on, and each patient gets exactly one token when the network
returns; a patient's cancel made offline against an appointment the desk moved meanwhile
shows the conflict and lets the patient decide. Chromium's `context.set_offline` cuts the
network; `static/js/outbox.js` keeps what was done in IndexedDB and sends it through
`POST /api/sync/push`."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.identity.models import User
from clinicflow.queue.models import QueueEntry
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import AppointmentStatus, Mode
from tests.e2e.conftest import LiveServer, StaffAccount
from tests.e2e.people import (
    Screenshot,
    in_server_db,
    keep_shot,
    register_walk_in,
    serious_problems,
    sign_in_patient,
    sign_in_staff,
    user_where,
)
from tests.e2e.test_install import wait_for_worker

pytestmark = pytest.mark.browser

ZONE = ZoneInfo("Africa/Nairobi")
WALK_INS = [
    ("Baraka Mutua", "+254711000061"),
    ("Zawadi Njeri", "+254711000062"),
    ("Juma Ochieng", "+254711000063"),
]
AFTER_RELOAD = ("Neema Achieng", "+254711000064")


def _tokens_by_phone(live_server: LiveServer) -> dict[str, list[int]]:
    """Every place in the doctor's queue of today, by the patient's phone."""

    async def read(session: AsyncSession, _settings: Any) -> dict[str, list[int]]:
        rows = await session.execute(
            select(User.phone, QueueEntry.token)
            .join(QueueEntry, QueueEntry.patient_id == User.id)
            .order_by(QueueEntry.token)
        )
        found: dict[str, list[int]] = {}
        for phone, token in rows:
            found.setdefault(phone, []).append(token)
        return found

    answer: dict[str, list[int]] = in_server_db(live_server, read)
    return answer


def test_walk_ins_made_offline_survive_a_reload_and_each_gets_one_token(
    phone_page: Page, live_server: LiveServer, receptionist: StaffAccount, screenshot: Screenshot
) -> None:
    page = phone_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.context.add_cookies([{"name": "cf_lang", "value": "sw", "url": live_server.base_url}])
    sign_in_staff(page, receptionist.email, receptionist.password)
    page.wait_for_url("**/home")
    page.goto("/desk/queue")
    # The worker must control the page for a reload without network to reach the shell.
    wait_for_worker(page)
    expect(page.locator("html")).to_have_attribute("lang", "sw")

    page.context.set_offline(True)
    items = page.get_by_test_id("outbox-item")
    for count, (name, phone) in enumerate(WALK_INS, start=1):
        register_walk_in(page, live_server.doctor.name, name, phone)
        expect(items).to_have_count(count)
    # A check-in by a code that matches no appointment: kept too, refused once sent.
    code_form = page.get_by_test_id("code-form")
    code_form.locator("input[name=code]").fill("ZZZZ99")
    code_form.locator("button[type=submit]").click()
    expect(page.locator("[data-testid=outbox-item][data-state=pending]")).to_have_count(4)
    expect(items.first).to_contain_text(WALK_INS[0][0])
    # Nothing reached the server.
    assert _tokens_by_phone(live_server) == {}
    page.get_by_test_id("outbox").scroll_into_view_if_needed()
    keep_shot(screenshot, page, "desk-offline-pending-sw")
    assert serious_problems(page) == []

    # A reload while still offline: the shell, with the pending walk-ins and the desk's
    # forms, so the receptionist goes on.
    page.reload()
    expect(page.get_by_test_id("offline-shell")).to_be_visible()
    expect(page.locator("[data-testid=outbox-item][data-state=pending]")).to_have_count(4)
    register_walk_in(page, live_server.doctor.name, *AFTER_RELOAD)
    expect(page.locator("[data-testid=outbox-item][data-state=pending]")).to_have_count(5)
    keep_shot(screenshot, page, "desk-offline-reloaded-sw")

    # The network returns: the desk again, each walk-in applied in order with its token.
    page.context.set_offline(False)
    expect(page.get_by_test_id("walk-in-form")).to_be_visible()
    applied = page.locator("[data-testid=outbox-item][data-state=applied]")
    expect(applied).to_have_count(4)
    for token, (name, _phone) in enumerate([*WALK_INS, AFTER_RELOAD], start=1):
        expect(applied.nth(token - 1)).to_contain_text(name)
        expect(applied.nth(token - 1).get_by_test_id("outbox-state")).to_contain_text(str(token))
    # The refused check-in says why, in the page's language.
    refused = page.locator("[data-testid=outbox-item][data-state=rejected]")
    expect(refused).to_have_count(1)
    prefix = (page.get_by_test_id("outbox").get_attribute("data-rejected") or "").split("{")[0]
    assert prefix
    reason = refused.get_by_test_id("outbox-state").inner_text().removeprefix(prefix).strip()
    assert reason
    expected = {phone: [token] for token, (_n, phone) in enumerate([*WALK_INS, AFTER_RELOAD], 1)}
    assert _tokens_by_phone(live_server) == expected

    # Another load sends nothing again; clearing leaves an empty, hidden list.
    page.reload()
    expect(applied).to_have_count(4)
    expect(refused).to_have_count(1)
    assert _tokens_by_phone(live_server) == expected
    page.get_by_test_id("outbox-clear").click()
    expect(page.get_by_test_id("outbox")).to_be_hidden()
    assert errors == []


def _book_two(live_server: LiveServer) -> list[str]:
    """Two appointments of the patient in two days, at 10:00 and 11:00 (the clinic's clock)."""
    day = (datetime.now(UTC) + timedelta(days=2)).astimezone(ZONE)

    async def seed(session: AsyncSession, settings: Any) -> list[str]:
        doctor = await user_where(session, email=live_server.doctor.email)
        patient = await user_where(session, phone=live_server.patient.phone)
        await scheduling.set_availability(
            session=session,
            actor=doctor,
            doctor_id=doctor.id,
            timezone="Africa/Nairobi",
            slot_minutes=30,
            weekly={
                weekday: [("08:00", "17:00")]
                for weekday in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            },
            exceptions=[],
        )
        booked = [
            await scheduling.book(
                session=session,
                settings=settings,
                actor=patient,
                doctor_id=doctor.id,
                starts_at=day.replace(hour=hour, minute=0, second=0, microsecond=0),
                mode=Mode.in_person,
            )
            for hour in (10, 11)
        ]
        return [str(row.id) for row in booked]

    ids: list[str] = in_server_db(live_server, seed)
    return ids


def _desk_moves(live_server: LiveServer, desk_email: str, appointment_id: str, to: str) -> None:
    async def move(session: AsyncSession, settings: Any) -> None:
        desk = await user_where(session, email=desk_email)
        row = await scheduling.get_appointment(
            session=session, actor=desk, appointment_id=uuid.UUID(appointment_id)
        )
        hour, minute = (int(part) for part in to.split(":"))
        await scheduling.reschedule(
            session=session,
            settings=settings,
            actor=desk,
            appointment_id=row.id,
            starts_at=row.starts_at.astimezone(ZONE).replace(hour=hour, minute=minute),
        )

    in_server_db(live_server, move)


def _status(live_server: LiveServer, appointment_id: str) -> AppointmentStatus:
    async def read(session: AsyncSession, _settings: Any) -> AppointmentStatus:
        patient = await user_where(session, phone=live_server.patient.phone)
        row = await scheduling.get_appointment(
            session=session, actor=patient, appointment_id=uuid.UUID(appointment_id)
        )
        return row.status

    status: AppointmentStatus = in_server_db(live_server, read)
    return status


def test_a_cancel_made_offline_against_a_moved_appointment_shows_the_conflict(
    phone_page: Page, live_server: LiveServer, receptionist: StaffAccount, screenshot: Screenshot
) -> None:
    page = phone_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.context.add_cookies([{"name": "cf_lang", "value": "sw", "url": live_server.base_url}])
    first, second = _book_two(live_server)
    sign_in_patient(page, live_server, live_server.patient.phone)
    page.goto("/appointments")
    wait_for_worker(page)
    cards = [page.locator(f"[data-testid=appointment][data-id='{id_}']") for id_ in (first, second)]
    expect(cards[1]).to_be_visible()

    # Offline, the patient cancels both; each is kept as pending.
    page.context.set_offline(True)
    pending = page.locator("[data-testid=outbox-item][data-state=pending]")
    for count, card in enumerate(cards, start=1):
        card.get_by_test_id("cancel").click()
        page.get_by_test_id("confirm-yes").click()
        expect(pending).to_have_count(count)

    # Signing out now would lose them: the page asks first.
    page.get_by_test_id("menu-button").click()
    question = page.locator("form[data-outbox-sign-out]").get_attribute("data-outbox-sign-out")
    assert question
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("confirm-dialog")).to_contain_text(question)
    page.get_by_test_id("confirm-no").click()
    page.get_by_test_id("menu-button").click()
    expect(pending).to_have_count(2)
    # A reload while still offline: the shell lists them.
    page.reload()
    expect(page.get_by_test_id("offline-shell")).to_be_visible()
    expect(pending).to_have_count(2)

    # Meanwhile the desk moves both; the network returns: the page again, and two conflicts,
    # nothing cancelled.
    _desk_moves(live_server, receptionist.email, first, "14:30")
    _desk_moves(live_server, receptionist.email, second, "15:30")
    page.context.set_offline(False)
    expect(cards[1]).to_be_visible()
    conflicts = page.locator("[data-testid=outbox-item][data-state=conflict]")
    expect(conflicts).to_have_count(2)
    expect(conflicts.nth(0).get_by_test_id("outbox-conflict")).to_contain_text("14:30")
    expect(conflicts.nth(1).get_by_test_id("outbox-conflict")).to_contain_text("15:30")
    assert serious_problems(page) == []
    page.get_by_test_id("outbox").scroll_into_view_if_needed()
    keep_shot(screenshot, page, "appointments-offline-conflict-sw")
    assert _status(live_server, first) is AppointmentStatus.booked
    assert _status(live_server, second) is AppointmentStatus.booked

    # The patient cancels the first anyway (against the server's version) and keeps the
    # second at its new time.
    conflicts.nth(0).get_by_test_id("outbox-cancel-anyway").click()
    expect(page.locator("[data-testid=outbox-item][data-state=applied]")).to_have_count(1)
    conflicts.nth(0).get_by_test_id("outbox-keep").click()
    expect(conflicts).to_have_count(0)
    expect(page.get_by_test_id("outbox-item")).to_have_count(1)
    assert _status(live_server, first) is AppointmentStatus.cancelled
    assert _status(live_server, second) is AppointmentStatus.booked
    # Nothing waits any more: signing out asks nothing.
    expect(page.locator("form[data-outbox-sign-out]")).not_to_have_attribute(
        "data-confirm", re.compile(".*")
    )
    assert errors == []
