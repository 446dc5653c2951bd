"""The waitlist: a freed slot is held for the first waiting patient, then passes on."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.models import OfferStatus, SlotHold, WaitlistEntry, WaitlistOffer
from clinicflow.scheduling.schemas import WaitlistStatus
from tests.factories import csrf_from
from tests.factories import sign_in_page_patient as sign_in_patient
from tests.scheduling.clinic import TUESDAY_9, TUESDAY_915, Clinic, at

pytestmark = pytest.mark.usefixtures("app")

# The frozen clock stands at Monday 2026-03-02 09:00 UTC, 12:00 in Nairobi. Wednesday
# 2026-03-04 is the doctor's day off.
TUESDAY_10 = "2026-03-03T07:00:00+00:00"
TUESDAY_11 = "2026-03-03T08:00:00+00:00"
THIS_WEEK = ("2026-03-02", "2026-03-06")


class Waitlist:
    """The clinic with one doctor and the calls the waitlist tests make."""

    def __init__(self, clinic: Clinic, doctor: User, clock: FrozenClock) -> None:
        self.clinic, self.doctor, self.clock = clinic, doctor, clock

    @property
    def client(self) -> httpx.AsyncClient:
        return self.clinic.client

    async def join(
        self, headers: dict[str, str], first: str = THIS_WEEK[0], last: str = THIS_WEEK[1]
    ) -> httpx.Response:
        return await self.client.post(
            "/api/waitlist",
            json={"doctor_id": str(self.doctor.id), "from": first, "to": last},
            headers=headers,
        )

    async def waiting(self) -> tuple[User, dict[str, str]]:
        """A new patient on this doctor's waitlist for this week, a moment after the last."""
        self.clock.advance(milliseconds=1)
        patient, patient_headers = await self.clinic.patient()
        response = await self.join(patient_headers)
        assert response.status_code == 201, response.text
        return patient, patient_headers

    async def entries(self, headers: dict[str, str]) -> list[dict[str, Any]]:
        response = await self.client.get("/api/waitlist", headers=headers)
        assert response.status_code == 200, response.text
        body: list[dict[str, Any]] = response.json()
        return body

    async def offer(self, headers: dict[str, str]) -> dict[str, Any] | None:
        entries = await self.entries(headers)
        offer: dict[str, Any] | None = entries[0]["offer"] if entries else None
        return offer

    async def booked_then_freed(self, starts_at: str = TUESDAY_9, *, how: str = "cancel") -> None:
        """Someone books `starts_at` and then frees it by cancelling or rescheduling."""
        _, headers = await self.clinic.patient()
        booked = await self.clinic.book(headers, self.doctor, starts_at)
        assert booked.status_code == 201, booked.text
        path = f"/api/appointments/{booked.json()['id']}"
        if how == "cancel":
            freed = await self.client.post(f"{path}/cancel", headers=headers)
        else:
            freed = await self.client.post(
                f"{path}/reschedule", json={"starts_at": TUESDAY_11}, headers=headers
            )
        assert freed.status_code == 200, freed.text

    async def sweep(self) -> int:
        async with self.clinic.runtime.transaction() as session:
            return await scheduling.pass_on_lapsed_offers(
                session=session, settings=self.clinic.runtime.settings
            )


@pytest.fixture
async def waitlist(clinic: Clinic, frozen_clock: FrozenClock) -> Waitlist:
    doctor, _ = await clinic.doctor()
    return Waitlist(clinic, doctor, frozen_clock)


def offer_texts(runtime: Runtime, phone: str | None) -> list[str]:
    """The waitlist texts sent to `phone` (the outbox also holds sign-in codes)."""
    assert runtime.outbox is not None
    return [m.body for m in runtime.outbox.messages() if m.to == phone and "code" not in m.body]


async def offers(session: AsyncSession) -> list[WaitlistOffer]:
    return list(await session.scalars(select(WaitlistOffer).order_by(WaitlistOffer.created_at)))


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
