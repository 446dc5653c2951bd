"""The queue tests' clinic plus the sync protocol's two calls."""

from __future__ import annotations

from typing import Any

from clinicflow.identity import service as identity
from clinicflow.identity.models import User
from clinicflow.identity.service.sessions import signed_in
from tests.queue.clinic import QueueClinic


class SyncClinic(QueueClinic):
    async def patient_without_texting(self) -> tuple[User, dict[str, str]]:
        """A patient signed in as after their phone code, without texting one: a property
        test makes more patients an hour than the phone's sign-in budget allows."""
        patient = await self.accounts.make()
        async with self.runtime.transaction() as session:
            login = await signed_in(
                session,
                self.runtime.settings,
                patient,
                identity.SessionKind.api,
                identity.Client(ip="203.0.113.7"),
                method="otp",
            )
        return patient, {"Authorization": f"Bearer {login.access_token}"}

    async def push(self, headers: dict[str, str], *mutations: dict[str, Any]) -> list[Any]:
        response = await self.client.post(
            "/api/sync/push", json={"mutations": list(mutations)}, headers=headers
        )
        assert response.status_code == 200, response.text
        results: list[Any] = response.json()["results"]
        return results

    async def pull(
        self, headers: dict[str, str], since: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """Every change up to the end (following `more`), and the last cursor."""
        found: list[dict[str, Any]] = []
        while True:
            params = {"since": since} if since else {}
            response = await self.client.get("/api/sync/changes", params=params, headers=headers)
            assert response.status_code == 200, response.text
            body = response.json()
            found += body["changes"]
            since = body["cursor"]
            if not body["more"]:
                assert since is not None
                return found, since

    async def mirror(self, headers: dict[str, str], held: dict[str, Any], since: str | None) -> str:
        """Apply a pull to a client's copy `held` ("type:id" → data), as a device does."""
        changes, cursor = await self.pull(headers, since)
        for change in changes:
            key = f"{change['type']}:{change['id']}"
            if change["op"] == "delete":
                held.pop(key, None)
            else:
                held[key] = change["data"]
        return cursor


def walk_in(client_id: str, doctor_id: object, phone: str, name: str = "Walk In") -> dict[str, Any]:
    data = {"doctor_id": str(doctor_id), "phone": phone, "name": name}
    return {"client_id": client_id, "type": "walk_in", "data": data}


def cancel(client_id: str, appointment_id: str, base_version: int | None = None) -> dict[str, Any]:
    mutation: dict[str, Any] = {
        "client_id": client_id,
        "type": "appointment.cancel",
        "data": {"appointment_id": appointment_id},
    }
    if base_version is not None:
        mutation["base_version"] = base_version
    return mutation


def check_in(
    client_id: str, appointment_id: str, base_version: int | None = None
) -> dict[str, Any]:
    mutation = cancel(client_id, appointment_id, base_version)
    mutation["type"] = "check_in"
    return mutation
