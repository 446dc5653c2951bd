"""A clinic for the scheduling tests: a Nairobi doctor's week, patients signed in by phone
code, staff by password, the calls every test makes, and signing in through the pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.factories import Accounts, bearer, latest_code, login

# The frozen clock stands at Monday 2026-03-02 09:00 UTC (12:00 in Nairobi).
WEEK = {
    "timezone": "Africa/Nairobi",
    "slot_minutes": 15,
    "weekly": {
        day: [["08:00", "12:00"], ["14:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
    },
    "exceptions": [{"date": "2026-03-04", "intervals": []}],
}
TUESDAY_9 = "2026-03-03T06:00:00+00:00"  # 09:00 in Nairobi
TUESDAY_915 = "2026-03-03T06:15:00+00:00"


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


class Clinic:
    def __init__(self, client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime) -> None:
        self.client, self.accounts, self.runtime = client, accounts, runtime
        self.refresh_tokens: dict[str, str] = {}

    async def doctor(self) -> tuple[User, dict[str, str]]:
        doctor = await self.accounts.make(Role.doctor, profile={"timezone": "Africa/Nairobi"})
        headers = bearer(await login(self.client, doctor))
        response = await self.client.put(
            f"/api/doctors/{doctor.id}/availability", json=WEEK, headers=headers
        )
        assert response.status_code == 200, response.text
        return doctor, headers

    async def patient(self) -> tuple[User, dict[str, str]]:
        patient = await self.accounts.make(Role.patient)
        assert patient.phone
        await self.client.post("/api/auth/otp/request", json={"phone": patient.phone})
        verified = await self.client.post(
            "/api/auth/otp/verify",
            json={"phone": patient.phone, "code": latest_code(self.runtime, patient.phone)},
        )
        tokens = verified.json()
        self.refresh_tokens[tokens["access_token"]] = tokens["refresh_token"]
        return patient, bearer(tokens)

    async def renew(self, headers: dict[str, str]) -> dict[str, str]:
        """Fresh access for a patient after the test moved the clock past the token's life."""
        access = headers["Authorization"].removeprefix("Bearer ")
        response = await self.client.post(
            "/api/auth/refresh", json={"refresh_token": self.refresh_tokens[access]}
        )
        assert response.status_code == 200, response.text
        return bearer(response.json())

    async def staff(self, role: Role = Role.receptionist) -> dict[str, str]:
        return bearer(await login(self.client, await self.accounts.make(role)))

    async def book(
        self, headers: dict[str, str], doctor: User, starts_at: str, **extra: Any
    ) -> httpx.Response:
        payload = {
            "doctor_id": str(doctor.id),
            "starts_at": starts_at,
            "mode": "in_person",
            "reason": "Cough",
            **extra,
        }
        return await self.client.post("/api/appointments", json=payload, headers=headers)

    async def slots(self, doctor: User, start: str, end: str) -> list[str]:
        response = await self.client.get(
            f"/api/doctors/{doctor.id}/slots", params={"from": start, "to": end}
        )
        assert response.status_code == 200, response.text
        return [s["starts_at"] for s in response.json()["slots"]]
