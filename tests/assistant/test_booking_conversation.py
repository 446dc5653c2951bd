"""Booking by conversation, end to end through the API (SQLite, and PostgreSQL with
TEST_DATABASE_URL): offer, hold, confirm; refuse and release; the 5-minute release by the
injectable clock; leaving releases; the upcoming limit in words; the waitlist when nothing is
free; a time taken meanwhile withdrawn with a new offer; two patients racing for one time."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI

from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.assistant.booking_clinic import Desk, make_desk
from tests.factories import Accounts, sign_in_page_patient, sign_in_page_staff

# Tuesday 2026-03-03 in Nairobi: 08:00 is 05:00 UTC, 14:00 is 11:00 UTC.
TUESDAY_8 = datetime.fromisoformat("2026-03-03T05:00:00+00:00")
TUESDAY_14 = datetime.fromisoformat("2026-03-03T11:00:00+00:00")


@pytest.fixture
async def desk(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> Desk:
    return await make_desk(client, accounts, runtime)


def starts(turn: dict[str, object]) -> list[datetime]:
    offers = turn["offers"]
    assert isinstance(offers, list)
    return [datetime.fromisoformat(o["starts_at"]) for o in offers]


async def appointments(desk: Desk, headers: dict[str, str]) -> list[dict[str, object]]:
    response = await desk.client.get("/api/appointments", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_offer_hold_confirm_books_the_appointment(desk: Desk) -> None:
    _patient, headers = await desk.clinic.patient()
    conversation = await desk.start(headers)
    turn = await desk.say(headers, conversation, "I need a skin doctor tomorrow morning")
    assert starts(turn) == [TUESDAY_8, TUESDAY_8.replace(minute=15), TUESDAY_8.replace(minute=30)]
    assert {o["doctor_name"] for o in turn["offers"]} == {"Dr Zawadi Mwangi"}
    assert "08:00" in turn["reply"]
    assert "hold" in turn["reply"]
    assert "hold" not in turn

    held = await desk.say(headers, conversation, "2")
    assert held["hold"]["expires_at"] == "2026-03-02T09:05:00Z"
    assert "12:05" in held["reply"]  # the hold's end on the clinic's clock
    # Held: another patient's booking page no longer offers that time.
    _other, other_headers = await desk.clinic.patient()
    free = await desk.client.get(
        f"/api/doctors/{desk.skin.id}/slots",
        params={"from": "2026-03-03T00:00:00+03:00", "to": "2026-03-04T00:00:00+03:00"},
        headers=other_headers,
    )
    assert free.status_code == 200, free.text
    offered = [slot["starts_at"] for slot in free.json()["slots"]]
    assert "2026-03-03T05:00:00Z" in offered
    assert "2026-03-03T05:15:00Z" not in offered

    booked = await desk.say(headers, conversation, "yes")
    assert booked["appointment"]["starts_at"] == "2026-03-03T05:15:00Z"
    assert "Booked" in booked["reply"]
    mine = await appointments(desk, headers)
    assert [a["starts_at"] for a in mine] == ["2026-03-03T05:15:00Z"]
    after = await desk.say(headers, conversation, "another one please")
    assert "ended" in after["reply"]


async def test_swahili_request_is_answered_in_swahili(desk: Desk) -> None:
    _patient, headers = await desk.clinic.patient()
    sw = {**headers, "Accept-Language": "sw"}
    conversation = await desk.start(sw)
    turn = await desk.say(sw, conversation, "Nahitaji daktari wa watoto kesho mchana")
    assert starts(turn)[0] == TUESDAY_14
    assert {o["doctor_name"] for o in turn["offers"]} == {"Dr Baraka Kiptoo"}
    assert "Jumanne" in turn["reply"]
    assert "14:00" in turn["reply"]


async def test_no_releases_the_hold(desk: Desk) -> None:
    _patient, headers = await desk.clinic.patient()
    conversation = await desk.start(headers)
    await desk.say(headers, conversation, "skin doctor tomorrow morning")
    held = await desk.say(headers, conversation, "1")
    assert "hold" in held
    released = await desk.say(headers, conversation, "no")
    assert "let that time go" in released["reply"]
    # The time is free again for someone else.
    _other, other_headers = await desk.clinic.patient()
    other = await desk.start(other_headers)
    turn = await desk.say(other_headers, other, "skin doctor tomorrow morning")
    assert starts(turn)[0] == TUESDAY_8


async def test_silence_for_five_minutes_releases_the_hold(
    desk: Desk, frozen_clock: FrozenClock
) -> None:
    _patient, headers = await desk.clinic.patient()
    conversation = await desk.start(headers)
    await desk.say(headers, conversation, "skin doctor tomorrow morning")
    await desk.say(headers, conversation, "1")
    _other, other_headers = await desk.clinic.patient()
    other = await desk.start(other_headers)
    during = await desk.say(other_headers, other, "skin doctor tomorrow morning")
    assert TUESDAY_8 not in starts(during)

    frozen_clock.advance(minutes=5, seconds=1)
    headers = await desk.clinic.renew(headers)
    other_headers = await desk.clinic.renew(other_headers)
    after = await desk.say(other_headers, other, "skin doctor tomorrow morning")
    assert starts(after)[0] == TUESDAY_8
    late = await desk.say(headers, conversation, "yes")
    assert "released after 5 minutes" in late["reply"]
    assert "appointment" not in late
    assert await appointments(desk, headers) == []


async def test_leaving_releases_the_hold(desk: Desk) -> None:
    _patient, headers = await desk.clinic.patient()
    conversation = await desk.start(headers)
    await desk.say(headers, conversation, "skin doctor tomorrow morning")
    await desk.say(headers, conversation, "1")
    left = await desk.client.delete(
        f"/api/booking-assistant/conversations/{conversation}", headers=headers
    )
    assert left.status_code == 204
    _other, other_headers = await desk.clinic.patient()
    other = await desk.start(other_headers)
    turn = await desk.say(other_headers, other, "skin doctor tomorrow morning")
    assert starts(turn)[0] == TUESDAY_8
    # Someone else's conversation does not exist for them; staff do not book this way.
    stranger = await desk.client.post(
        f"/api/booking-assistant/conversations/{other}/messages",
        json={"text": "1"},
        headers=headers,
    )
    assert stranger.status_code == 404
    staff = await desk.clinic.staff()
    refused = await desk.client.post("/api/booking-assistant/conversations", headers=staff)
    assert refused.status_code == 403


async def test_a_time_that_has_begun_is_not_held(desk: Desk, frozen_clock: FrozenClock) -> None:
    _patient, headers = await desk.clinic.patient()
    conversation = await desk.start(headers)
    first = await desk.say(headers, conversation, "skin doctor tomorrow morning")
    assert starts(first)[0] == TUESDAY_8
    # The patient picks the first time once it has begun: scheduling will not hold a time
    # in the past, and the assistant says so and offers the times still ahead.
    frozen_clock.advance(hours=20, minutes=1)
    headers = await desk.clinic.renew(headers)
    late = await desk.say(headers, conversation, "1")
    assert "hold" not in late
    assert late["reply"].startswith("Sorry, that time is no longer free.")
    assert starts(late)[0] == TUESDAY_8.replace(minute=15)
    assert await appointments(desk, headers) == []


async def test_the_upcoming_limit_is_answered_in_words(desk: Desk) -> None:
    _patient, headers = await desk.clinic.patient()
    for minute in ("00", "15", "30"):
        booked = await desk.clinic.book(headers, desk.children, f"2026-03-03T05:{minute}:00+00:00")
        assert booked.status_code == 201, booked.text
    conversation = await desk.start(headers)
    await desk.say(headers, conversation, "skin doctor tomorrow morning")
    await desk.say(headers, conversation, "1")
    refused = await desk.say(headers, conversation, "yes")
    assert "at most 3 upcoming appointments" in refused["reply"]
    assert "appointment" not in refused
    assert "hold" not in refused
    # The refused time is let go at once, not kept until the hold lapses.
    _other, other_headers = await desk.clinic.patient()
    other = await desk.start(other_headers)
    turn = await desk.say(other_headers, other, "skin doctor tomorrow morning")
    assert starts(turn)[0] == TUESDAY_8


async def test_nothing_free_offers_the_waitlist(desk: Desk) -> None:
    _patient, headers = await desk.clinic.patient()
    conversation = await desk.start(headers)
    # Wednesday is the doctors' day off.
    turn = await desk.say(headers, conversation, "Dr Mwangi on Wednesday")
    assert turn["offers"] == []
    assert "waiting list" in turn["reply"]
    joined = await desk.say(headers, conversation, "yes")
    assert "You are on the waiting list of Dr Zawadi Mwangi" in joined["reply"]
    waiting = await desk.client.get("/api/waitlist", headers=headers)
    assert waiting.status_code == 200, waiting.text
    assert str(desk.skin.id) in waiting.text


async def test_a_time_taken_meanwhile_is_withdrawn_with_a_new_offer(desk: Desk) -> None:
    _patient, headers = await desk.clinic.patient()
    conversation = await desk.start(headers)
    first = await desk.say(headers, conversation, "skin doctor tomorrow morning")
    assert starts(first)[0] == TUESDAY_8
    _other, other_headers = await desk.clinic.patient()
    taken = await desk.clinic.book(other_headers, desk.skin, "2026-03-03T05:00:00+00:00")
    assert taken.status_code == 201, taken.text
    fresh = await desk.client.post(
        f"/api/booking-assistant/conversations/{conversation}/refresh", headers=headers
    )
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["reply"].startswith("Sorry")
    assert TUESDAY_8 not in starts(fresh.json())
    assert len(fresh.json()["offers"]) == 3


async def test_two_patients_racing_get_one_appointment_and_one_fresh_offer(desk: Desk) -> None:
    people = [await desk.clinic.patient() for _ in range(2)]
    talks = []
    for _patient, headers in people:
        conversation = await desk.start(headers)
        turn = await desk.say(headers, conversation, "skin doctor tomorrow morning")
        assert starts(turn)[0] == TUESDAY_8
        talks.append((headers, conversation))
    picked = await asyncio.gather(*(desk.say(h, c, "1") for h, c in talks))
    winners = [i for i, turn in enumerate(picked) if "hold" in turn]
    assert len(winners) == 1
    (loser,) = [turn for turn in picked if "hold" not in turn]
    assert loser["reply"].startswith("Sorry, that time has just been taken")
    assert TUESDAY_8 not in starts(loser)
    headers, conversation = talks[winners[0]]
    booked = await desk.say(headers, conversation, "yes")
    assert booked["appointment"]["starts_at"] == "2026-03-03T05:00:00Z"


async def test_the_page_is_the_patients_and_in_their_language(
    app: FastAPI, accounts: Accounts, runtime: Runtime
) -> None:
    patient = await accounts.make(Role.patient)
    receptionist = await accounts.make(Role.receptionist)
    for user, cookies in ((patient, {"cf_lang": "sw"}), (receptionist, {})):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", cookies=cookies
        ) as browser:
            if user is patient:
                await sign_in_page_patient(browser, runtime, user)
                listed = await browser.get("/book")
                assert 'href="/book-with-assistant"' in listed.text
                page = await browser.get("/book-with-assistant")
                assert page.status_code == 200, page.text
                assert "Weka miadi kwa msaidizi" in page.text
                assert 'data-zone="Africa/Nairobi"' in page.text
            else:
                await sign_in_page_staff(browser, user)
                listed = await browser.get("/book")
                assert 'href="/book-with-assistant"' not in listed.text
                page = await browser.get("/book-with-assistant")
                assert page.status_code == 403
