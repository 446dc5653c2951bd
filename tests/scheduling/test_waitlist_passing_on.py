"""The waitlist after an offer: it passes on, is booked or left, and the patient's pages."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from clinicflow.scheduling.models import OfferStatus, SlotHold, WaitlistEntry
from clinicflow.scheduling.schemas import WaitlistStatus
from tests.factories import csrf_from
from tests.factories import sign_in_page_patient as sign_in_patient
from tests.scheduling.clinic import TUESDAY_9, TUESDAY_915, Clinic, at
from tests.scheduling.waitlist_cases import (
    THIS_WEEK,
    Waitlist,
    offer_texts,
    offers,
)

pytestmark = pytest.mark.usefixtures("app")


# --- passing on ------------------------------------------------------------------------------


async def test_an_offer_not_booked_in_15_minutes_passes_to_the_next(
    waitlist: Waitlist, frozen_clock: FrozenClock, runtime: Runtime, session: AsyncSession
) -> None:
    first, first_headers = await waitlist.waiting()
    second, second_headers = await waitlist.waiting()
    await waitlist.booked_then_freed(TUESDAY_9)

    frozen_clock.advance(minutes=14, seconds=59)
    assert await waitlist.sweep() == 0
    assert await waitlist.offer(first_headers) is not None

    frozen_clock.advance(seconds=1)
    assert await waitlist.sweep() == 1
    second_headers = await waitlist.clinic.renew(second_headers)
    offer = await waitlist.offer(second_headers)
    assert offer is not None
    assert at(offer["starts_at"]) == at(TUESDAY_9)
    assert at(offer["expires_at"]) == frozen_clock.current + timedelta(minutes=15)
    assert len(offer_texts(runtime, second.phone)) == 1
    first_headers = await waitlist.clinic.renew(first_headers)
    assert await waitlist.offer(first_headers) is None

    # Nobody else waits, and the first patient is never offered the same slot again: once
    # the second offer lapses the slot is simply free.
    frozen_clock.advance(minutes=15)
    assert await waitlist.sweep() == 1
    assert [o.status for o in await offers(session)] == [OfferStatus.lapsed, OfferStatus.lapsed]
    assert len(offer_texts(runtime, first.phone)) == 1
    free = await waitlist.clinic.slots(
        waitlist.doctor, "2026-03-03T00:00:00+00:00", "2026-03-04T00:00:00+00:00"
    )
    assert at(TUESDAY_9) in [at(s) for s in free]


async def test_booking_the_offer_fulfils_the_entry(
    waitlist: Waitlist, frozen_clock: FrozenClock, session: AsyncSession
) -> None:
    _, first = await waitlist.waiting()
    _, second = await waitlist.waiting()
    await waitlist.booked_then_freed(TUESDAY_9)
    offer = await waitlist.offer(first)
    assert offer is not None

    booked = await waitlist.clinic.book(first, waitlist.doctor, TUESDAY_9, hold_id=offer["hold_id"])
    assert booked.status_code == 201, booked.text
    assert await waitlist.entries(first) == []
    entry = await session.scalar(select(WaitlistEntry).order_by(WaitlistEntry.created_at))
    assert entry is not None
    assert entry.status is WaitlistStatus.fulfilled
    assert [o.status for o in await offers(session)] == [OfferStatus.booked]
    assert await session.scalar(select(func.count()).select_from(SlotHold)) == 0

    frozen_clock.advance(minutes=16)
    assert await waitlist.sweep() == 0
    second = await waitlist.clinic.renew(second)
    assert await waitlist.offer(second) is None


async def test_rescheduling_into_the_offered_slot_fulfils_the_entry(
    waitlist: Waitlist, session: AsyncSession
) -> None:
    _, headers = await waitlist.waiting()
    later = await waitlist.clinic.book(headers, waitlist.doctor, "2026-03-05T06:00:00+00:00")
    assert later.status_code == 201
    await waitlist.booked_then_freed(TUESDAY_9)
    assert await waitlist.offer(headers) is not None
    moved = await waitlist.client.post(
        f"/api/appointments/{later.json()['id']}/reschedule",
        json={"starts_at": TUESDAY_9},
        headers=headers,
    )
    assert moved.status_code == 200, moved.text
    assert await session.scalar(select(WaitlistEntry.status)) is WaitlistStatus.fulfilled
    assert [o.status for o in await offers(session)] == [OfferStatus.booked]


async def test_leaving_stops_offers_and_passes_a_held_slot_on(
    waitlist: Waitlist, runtime: Runtime
) -> None:
    first_patient, first = await waitlist.waiting()
    _, second = await waitlist.waiting()
    await waitlist.booked_then_freed(TUESDAY_9)
    (entry,) = await waitlist.entries(first)
    assert entry["offer"] is not None

    left = await waitlist.client.delete(f"/api/waitlist/{entry['id']}", headers=first)
    assert left.status_code == 204
    assert await waitlist.entries(first) == []
    offer = await waitlist.offer(second)
    assert offer is not None
    assert at(offer["starts_at"]) == at(TUESDAY_9)

    await waitlist.booked_then_freed(TUESDAY_915)
    assert len(offer_texts(runtime, first_patient.phone)) == 1

    again = await waitlist.client.delete(f"/api/waitlist/{entry['id']}", headers=first)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_transition"


async def test_only_the_patient_or_the_front_desk_removes_an_entry(waitlist: Waitlist) -> None:
    _, headers = await waitlist.waiting()
    (entry,) = await waitlist.entries(headers)
    _, stranger = await waitlist.clinic.patient()
    path = f"/api/waitlist/{entry['id']}"
    assert (await waitlist.client.delete(path, headers=stranger)).status_code == 404
    missing = await waitlist.client.delete(f"/api/waitlist/{uuid.uuid4()}", headers=stranger)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    desk = await waitlist.clinic.staff(Role.receptionist)
    assert (await waitlist.client.delete(path, headers=desk)).status_code == 204


async def test_releasing_the_offered_hold_passes_it_on(waitlist: Waitlist) -> None:
    _, first = await waitlist.waiting()
    _, second = await waitlist.waiting()
    await waitlist.booked_then_freed(TUESDAY_9)
    offer = await waitlist.offer(first)
    assert offer is not None
    released = await waitlist.client.delete(f"/api/holds/{offer['hold_id']}", headers=first)
    assert released.status_code == 204
    assert await waitlist.offer(first) is None
    passed = await waitlist.offer(second)
    assert passed is not None
    assert at(passed["starts_at"]) == at(TUESDAY_9)


# --- pages -----------------------------------------------------------------------------------


async def test_a_patient_joins_sees_the_offer_confirms_it_and_it_is_booked(
    client: httpx.AsyncClient,
    clinic: Clinic,
    waitlist: Waitlist,
    runtime: Runtime,
    session: AsyncSession,
) -> None:
    patient = await clinic.accounts.make(Role.patient)
    await sign_in_patient(client, runtime, patient)
    week = await client.get(f"/book/{waitlist.doctor.id}", params={"week": THIS_WEEK[0]})
    assert 'data-testid="waitlist-form"' in week.text
    assert 'name="from" value="2026-03-02"' in week.text  # the days still to come
    token = csrf_from(week.text)

    backwards = await client.post(
        f"/book/{waitlist.doctor.id}/waitlist",
        data={"from": "2026-03-05", "to": "2026-03-03", "csrf_token": token},
    )
    assert backwards.status_code == 422
    assert 'data-testid="form-error"' in backwards.text
    assert 'name="from" value="2026-03-05"' in backwards.text  # kept for the fix

    joined = await client.post(
        f"/book/{waitlist.doctor.id}/waitlist",
        data={"from": "2026-03-02", "to": "2026-03-06", "csrf_token": token},
    )
    assert joined.status_code == 303
    mine = await client.get(joined.headers["location"])
    assert 'data-testid="notice"' in mine.text
    assert 'data-testid="waitlist-entry"' in mine.text
    assert 'data-testid="confirm-offer"' not in mine.text

    await waitlist.booked_then_freed(TUESDAY_9)
    mine = await client.get("/appointments")
    assert "Held for you until 12:15" in mine.text
    hold_id = str(await session.scalar(select(SlotHold.id)))
    confirm_url = f"/book/{waitlist.doctor.id}/held/{hold_id}"
    assert f'href="{confirm_url}"' in mine.text

    confirm = await client.get(confirm_url)
    assert confirm.status_code == 200
    assert 'data-testid="hold-expiry"' in confirm.text
    assert "15 minutes, until 12:15" in confirm.text
    booked = await client.post(
        f"/book/{waitlist.doctor.id}/confirm",
        data={"starts_at": TUESDAY_9, "mode": "online", "csrf_token": csrf_from(confirm.text)},
    )
    assert booked.status_code == 303, booked.text
    mine = await client.get(booked.headers["location"])
    assert 'data-testid="waitlist-entry"' not in mine.text
    status = await session.scalar(select(WaitlistEntry.status))
    assert status is WaitlistStatus.fulfilled

    gone = await client.get(confirm_url)
    assert gone.status_code == 404
    assert 'data-testid="form-error"' in gone.text


async def test_a_patient_leaves_the_waitlist_from_their_page(
    client: httpx.AsyncClient, clinic: Clinic, waitlist: Waitlist, runtime: Runtime
) -> None:
    patient = await clinic.accounts.make(Role.patient)
    await sign_in_patient(client, runtime, patient)
    week = await client.get(f"/book/{waitlist.doctor.id}")
    joined = await client.post(
        f"/book/{waitlist.doctor.id}/waitlist",
        data={"from": "2026-03-03", "to": "2026-03-03", "csrf_token": csrf_from(week.text)},
    )
    assert joined.status_code == 303
    mine = await client.get("/appointments")
    entry_id = mine.text.split('data-testid="waitlist-entry" data-id="')[1].split('"')[0]
    left = await client.post(
        f"/waitlist/{entry_id}/leave", data={"csrf_token": csrf_from(mine.text)}
    )
    assert left.status_code == 303
    mine = await client.get(left.headers["location"])
    assert 'data-testid="waitlist-entry"' not in mine.text
    assert 'data-testid="notice"' in mine.text
    again = await client.post(
        f"/waitlist/{entry_id}/leave", data={"csrf_token": csrf_from(mine.text)}
    )
    assert again.status_code == 409
    assert 'data-testid="form-error"' in again.text
