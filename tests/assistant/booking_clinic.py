"""A clinic for the booking-assistant tests: a skin doctor and a children's doctor working
the scheduling tests' Nairobi week, and patients signed in by phone code. The frozen clock
stands at Monday 2026-03-02 09:00 UTC (12:00 in Nairobi); Wednesday is a day off."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from clinicflow.identity import service as identity
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.factories import Accounts, bearer, login
from tests.scheduling.clinic import WEEK, Clinic


@dataclass
class Desk:
    clinic: Clinic
    skin: User
    children: User

    @property
    def client(self) -> httpx.AsyncClient:
        return self.clinic.client

    async def start(self, headers: dict[str, str]) -> str:
        response = await self.client.post("/api/booking-assistant/conversations", headers=headers)
        assert response.status_code == 201, response.text
        conversation: str = response.json()["id"]
        return conversation

    async def say(self, headers: dict[str, str], conversation: str, text: str) -> dict[str, Any]:
        response = await self.client.post(
            f"/api/booking-assistant/conversations/{conversation}/messages",
            json={"text": text},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        turn: dict[str, Any] = response.json()
        return turn


async def make_desk(client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime) -> Desk:
    clinic = Clinic(client, accounts, runtime)
    admin = await accounts.make(Role.admin)
    doctors = []
    for name, (en, sw) in (
        ("Dr Zawadi Mwangi", ("Dermatology", "Magonjwa ya ngozi")),
        ("Dr Baraka Kiptoo", ("Paediatrics", "Magonjwa ya watoto")),
    ):
        doctor = await accounts.make(Role.doctor, name=name, profile={"timezone": "Africa/Nairobi"})
        response = await client.put(
            f"/api/doctors/{doctor.id}/availability",
            json=WEEK,
            headers=bearer(await login(client, doctor)),
        )
        assert response.status_code == 200, response.text
        async with runtime.transaction() as session:
            specialty = await identity.add_specialty(
                session=session, actor=admin, name_en=en, name_sw=sw
            )
            await identity.update_doctor_profile(
                session=session,
                actor=admin,
                doctor_id=doctor.id,
                changes={"specialty_id": specialty.id},
            )
        doctors.append(doctor)
    return Desk(clinic, doctors[0], doctors[1])
