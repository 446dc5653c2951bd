"""A clinic for the queue tests, on the scheduling tests' Nairobi week.

The frozen clock stands at Monday 2026-03-02 09:00 UTC (12:00 in Nairobi), so the doctor's
queue of the day is 2026-03-02 and the afternoon's slots (14:00–18:00 Nairobi, 11:00–15:00
UTC) can be booked and checked in today.
"""

from __future__ import annotations

from typing import Any

import httpx

from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from tests.scheduling.clinic import Clinic

TODAY = "2026-03-02"
AFTERNOON = [f"2026-03-02T{11 + q // 4:02d}:{(q % 4) * 15:02d}:00+00:00" for q in range(16)]


class QueueClinic(Clinic):
    """The scheduling clinic plus the queue's calls."""

    check_in_opened = False

    async def open_check_in_early(self) -> None:
        """Widen the clinic's check-in window to 12 hours, so the afternoon's appointments
        can be checked in at the frozen 09:00 UTC. The window is the same for the desk as
        for the patient (issue 18), so a test that checks a patient in hours before their
        start says so here; the window itself is tested in `test_check_in_window.py`."""
        if self.check_in_opened:
            return
        admin = await self.staff(Role.admin)
        response = await self.client.put(
            "/api/admin/queue-rules", json={"check_in_window_minutes": 720}, headers=admin
        )
        assert response.status_code == 200, response.text
        self.check_in_opened = True

    async def front_desk(self) -> dict[str, str]:
        return await self.staff(Role.receptionist)

    async def walk_in(
        self, desk: dict[str, str], doctor: User, phone: str, **extra: Any
    ) -> httpx.Response:
        payload = {"doctor_id": str(doctor.id), "phone": phone, "name": "Walk In", **extra}
        return await self.client.post("/api/queue/walk-in", json=payload, headers=desk)

    async def booked_and_checked_in(
        self, desk: dict[str, str], doctor: User, starts_at: str, **extra: Any
    ) -> tuple[User, dict[str, str], dict[str, Any]]:
        await self.open_check_in_early()
        patient, headers = await self.patient()
        booked = await self.book(headers, doctor, starts_at, **extra)
        assert booked.status_code == 201, booked.text
        response = await self.client.post(
            "/api/queue/check-in", json={"appointment_id": booked.json()["id"]}, headers=desk
        )
        assert response.status_code == 201, response.text
        return patient, headers, response.json()

    async def queue(self, doctor: User, headers: dict[str, str]) -> dict[str, Any]:
        response = await self.client.get(f"/api/queue/{doctor.id}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def act(
        self, headers: dict[str, str], path: str, json: dict[str, Any] | None = None
    ) -> httpx.Response:
        return await self.client.post(f"/api/queue/{path}", json=json, headers=headers)
