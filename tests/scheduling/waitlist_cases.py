"""What the waitlist tests share: one doctor's clinic, the calls they make, the texts sent."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.clock import FrozenClock
from clinicflow.identity.models import User
from clinicflow.runtime import Runtime
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.models import WaitlistOffer
from tests.scheduling.clinic import TUESDAY_9, Clinic

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


def offer_texts(runtime: Runtime, phone: str | None) -> list[str]:
    """The waitlist texts sent to `phone` (the outbox also holds sign-in codes)."""
    assert runtime.outbox is not None
    return [m.body for m in runtime.outbox.messages() if m.to == phone and "code" not in m.body]


async def offers(session: AsyncSession) -> list[WaitlistOffer]:
    return list(await session.scalars(select(WaitlistOffer).order_by(WaitlistOffer.created_at)))
