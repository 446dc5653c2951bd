"""The waitlist: joining it, the offer a freed slot makes, and the races around it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.models import OfferStatus, SlotHold, WaitlistEntry, WaitlistOffer
from clinicflow.scheduling.schemas import WaitlistStatus
from tests.scheduling.clinic import TUESDAY_9, at
from tests.scheduling.waitlist_cases import (
    TUESDAY_10,
    Waitlist,
    offer_texts,
    offers,
)

pytestmark = pytest.mark.usefixtures("app")


# --- joining ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "status", "field"),
    [
        ("2026-03-01", "2026-03-06", 422, "from"),  # yesterday
        ("2026-03-06", "2026-03-05", 422, "to"),  # ends before it starts
        ("2026-03-03", "2026-04-03", 422, "to"),  # 32 days
        ("tomorrow", "2026-03-05", 422, None),
    ],
)
async def test_joining_refuses_bad_ranges(
    waitlist: Waitlist, first: str, last: str, status: int, field: str | None
) -> None:
    _, headers = await waitlist.clinic.patient()
    response = await waitlist.join(headers, first, last)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == "validation_error"
    if field:
        assert response.json()["error"]["details"]["field"] == field
    assert await waitlist.entries(headers) == []


async def test_joining_today_for_31_days_is_allowed(waitlist: Waitlist) -> None:
    _, headers = await waitlist.clinic.patient()
    response = await waitlist.join(headers, "2026-03-02", "2026-04-01")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["from"], body["to"], body["status"]) == ("2026-03-02", "2026-04-01", "active")
    assert body["offer"] is None


async def test_one_active_entry_per_doctor_and_only_patients_join(
    waitlist: Waitlist, session: AsyncSession
) -> None:
    _, headers = await waitlist.clinic.patient()
    first = await waitlist.join(headers)
    assert first.status_code == 201
    again = await waitlist.join(headers, "2026-03-05", "2026-03-06")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_transition"
    other_doctor, _ = await waitlist.clinic.doctor()
    elsewhere = await waitlist.client.post(
        "/api/waitlist",
        json={"doctor_id": str(other_doctor.id), "from": "2026-03-03", "to": "2026-03-03"},
        headers=headers,
    )
    assert elsewhere.status_code == 201
    left = await waitlist.client.delete(f"/api/waitlist/{first.json()['id']}", headers=headers)
    assert left.status_code == 204
    assert (await waitlist.join(headers)).status_code == 201

    staff = await waitlist.clinic.staff()
    assert (await waitlist.join(staff)).status_code == 403
    unknown = await waitlist.client.post(
        "/api/waitlist",
        json={"doctor_id": str(uuid.uuid4()), "from": "2026-03-03", "to": "2026-03-03"},
        headers=headers,
    )
    assert unknown.status_code == 404
    actions = list(
        await session.execute(
            select(AuditEntry.action, AuditEntry.ip)
            .where(AuditEntry.action.like("waitlist.%"))
            .order_by(AuditEntry.seq)
        )
    )
    # Each row carries the address of the request that wrote it (`client`'s).
    assert [tuple(row) for row in actions] == [
        (action, "203.0.113.7")
        for action in ("waitlist.join", "waitlist.join", "waitlist.leave", "waitlist.join")
    ]


async def test_an_entry_whose_days_are_past_does_not_block_joining_again(
    waitlist: Waitlist, frozen_clock: FrozenClock, session: AsyncSession
) -> None:
    patient, headers = await waitlist.clinic.patient()
    assert (await waitlist.join(headers, "2026-03-02", "2026-03-02")).status_code == 201
    frozen_clock.advance(days=1)
    headers = await waitlist.clinic.renew(headers)
    assert await waitlist.entries(headers) == []
    assert (await waitlist.join(headers, "2026-03-03", "2026-03-03")).status_code == 201
    statuses = await session.scalars(
        select(WaitlistEntry.status)
        .where(WaitlistEntry.patient_id == patient.id)
        .order_by(WaitlistEntry.created_at)
    )
    assert list(statuses) == [WaitlistStatus.expired, WaitlistStatus.active]


# --- offers ----------------------------------------------------------------------------------


async def test_a_cancelled_slot_is_held_for_the_first_patient_and_they_are_told(
    waitlist: Waitlist, runtime: Runtime
) -> None:
    first, first_headers = await waitlist.waiting()
    second, second_headers = await waitlist.waiting()
    await waitlist.booked_then_freed(TUESDAY_9)

    offer = await waitlist.offer(first_headers)
    assert offer is not None
    assert at(offer["starts_at"]) == at(TUESDAY_9)
    assert at(offer["expires_at"]) == waitlist.clock.current + timedelta(minutes=15)
    assert await waitlist.offer(second_headers) is None
    texts = offer_texts(runtime, first.phone)
    assert len(texts) == 1
    assert "Tuesday 3 March at 09:00" in texts[0]
    assert "12:15" in texts[0]  # held until, on the clinic's (Nairobi) clock
    assert offer_texts(runtime, second.phone) == []


async def test_a_rescheduled_from_slot_is_offered(waitlist: Waitlist) -> None:
    _, headers = await waitlist.waiting()
    await waitlist.booked_then_freed(TUESDAY_9, how="reschedule")
    offer = await waitlist.offer(headers)
    assert offer is not None
    assert at(offer["starts_at"]) == at(TUESDAY_9)


async def test_the_text_is_in_the_patients_language(waitlist: Waitlist, runtime: Runtime) -> None:
    patient = await waitlist.clinic.accounts.make(
        Role.patient, profile={"preferred_language": "sw"}
    )
    async with runtime.transaction() as session:
        await scheduling.join_waitlist(
            session=session,
            settings=runtime.settings,
            actor=patient,
            doctor_id=waitlist.doctor.id,
            first_day=at(TUESDAY_9).date(),
            last_day=at(TUESDAY_9).date(),
        )
    await waitlist.booked_then_freed(TUESDAY_9)
    (text,) = offer_texts(runtime, patient.phone)
    assert "Jumanne" in text  # Tuesday
    assert "Tuesday" not in text


async def test_a_held_offer_is_not_free_for_anyone_else(waitlist: Waitlist) -> None:
    await waitlist.waiting()
    await waitlist.booked_then_freed(TUESDAY_9)
    free = await waitlist.clinic.slots(
        waitlist.doctor, "2026-03-03T00:00:00+00:00", "2026-03-04T00:00:00+00:00"
    )
    assert at(TUESDAY_9) not in [at(s) for s in free]
    _, other = await waitlist.clinic.patient()
    taken = await waitlist.clinic.book(other, waitlist.doctor, TUESDAY_9)
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "slot_taken"
    hold = await waitlist.client.post(
        "/api/holds",
        json={"doctor_id": str(waitlist.doctor.id), "starts_at": TUESDAY_9},
        headers=other,
    )
    assert hold.status_code == 409


async def test_only_a_slot_inside_the_patients_days_is_offered(waitlist: Waitlist) -> None:
    _, headers = await waitlist.clinic.patient()
    assert (await waitlist.join(headers, "2026-03-05", "2026-03-06")).status_code == 201
    await waitlist.booked_then_freed(TUESDAY_9)
    assert await waitlist.offer(headers) is None


async def test_a_patient_holding_a_slot_with_the_doctor_is_passed_over(
    waitlist: Waitlist,
) -> None:
    _, first = await waitlist.waiting()
    _, second = await waitlist.waiting()
    held = await waitlist.client.post(
        "/api/holds",
        json={"doctor_id": str(waitlist.doctor.id), "starts_at": TUESDAY_10},
        headers=first,
    )
    assert held.status_code == 201
    await waitlist.booked_then_freed(TUESDAY_9)
    assert await waitlist.offer(first) is None
    offer = await waitlist.offer(second)
    assert offer is not None
    assert at(offer["starts_at"]) == at(TUESDAY_9)
    # Passed over, not removed: the first patient keeps their place.
    assert [entry["status"] for entry in await waitlist.entries(first)] == ["active"]


async def test_a_patient_with_the_most_upcoming_appointments_is_passed_over(
    waitlist: Waitlist,
) -> None:
    _, full = await waitlist.waiting()
    _, second = await waitlist.waiting()
    for minute in (0, 15, 30):
        starts = (at("2026-03-05T06:00:00+00:00") + timedelta(minutes=minute)).isoformat()
        assert (await waitlist.clinic.book(full, waitlist.doctor, starts)).status_code == 201
    await waitlist.booked_then_freed(TUESDAY_9)
    assert await waitlist.offer(full) is None
    assert await waitlist.offer(second) is not None


async def test_a_past_slot_is_not_offered(
    waitlist: Waitlist, runtime: Runtime, session: AsyncSession
) -> None:
    await waitlist.waiting()
    async with runtime.transaction() as transaction:
        offered = await scheduling.offer_freed_slot(
            session=transaction,
            settings=runtime.settings,
            doctor_id=waitlist.doctor.id,
            starts_at=at("2026-03-02T06:00:00+00:00"),  # this morning
        )
    assert offered is None
    assert await offers(session) == []


# --- races -----------------------------------------------------------------------------------


async def test_two_sweeps_at_once_offer_a_lapsed_slot_once(
    waitlist: Waitlist, frozen_clock: FrozenClock, runtime: Runtime, session: AsyncSession
) -> None:
    await waitlist.waiting()
    nexts = [await waitlist.waiting() for _ in range(3)]
    await waitlist.booked_then_freed(TUESDAY_9)
    frozen_clock.advance(minutes=15)

    lapsed = await asyncio.gather(*(waitlist.sweep() for _ in range(4)))
    assert sorted(lapsed) == [0, 0, 0, 1]
    open_offers = [o for o in await offers(session) if o.status is OfferStatus.open]
    assert len(open_offers) == 1
    holds = list(await session.scalars(select(SlotHold)))
    assert [(h.id, h.patient_id) for h in holds] == [
        (open_offers[0].hold_id, open_offers[0].patient_id)
    ]
    assert open_offers[0].patient_id == nexts[0][0].id
    told = [offer_texts(runtime, patient.phone) for patient, _ in nexts]
    assert [len(texts) for texts in told] == [1, 0, 0]


async def test_offering_one_slot_from_two_transactions_at_once_holds_it_once(
    waitlist: Waitlist, runtime: Runtime, session: AsyncSession
) -> None:
    for _ in range(3):
        await waitlist.waiting()

    async def offer() -> WaitlistOffer | None:
        async with runtime.transaction() as transaction:
            return await scheduling.offer_freed_slot(
                session=transaction,
                settings=runtime.settings,
                doctor_id=waitlist.doctor.id,
                starts_at=at(TUESDAY_9),
            )

    made = await asyncio.gather(*(offer() for _ in range(6)))
    assert len([m for m in made if m is not None]) == 1
    assert len(await offers(session)) == 1
    assert await session.scalar(select(func.count()).select_from(SlotHold)) == 1
