"""A queue followed by 300 patients over real sockets: each gets its own snapshot on
subscribe, and one call-next reaches every one of them with the new order."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from clinicflow.config import Settings
from clinicflow.core.clock import FrozenClock
from clinicflow.runtime import Runtime
from tests.factories import Accounts, bearer, latest_code
from tests.queue.clinic import TODAY, QueueClinic
from tests.realtime.conftest import Server, Socket, connect

PATIENTS = 300
AT_ONCE = 25  # sockets opening and subscribing together


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Every patient signs in from the test client's one address, and each socket may hold
    a snapshot plus a few updates."""
    return settings.model_copy(
        update={"otp_requests_per_phone_per_hour": PATIENTS, "ws_send_buffer": 256}
    )


async def signed_in_walk_in(
    clinic: QueueClinic, desk: dict[str, str], doctor_id: str, phone: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The desk registers a walk-in by phone; the patient signs in with that phone."""
    joined = await clinic.client.post(
        "/api/queue/walk-in",
        json={"doctor_id": doctor_id, "phone": phone, "name": f"Patient {phone[-3:]}"},
        headers=desk,
    )
    assert joined.status_code == 201, joined.text
    await clinic.client.post("/api/auth/otp/request", json={"phone": phone})
    verified = await clinic.client.post(
        "/api/auth/otp/verify", json={"phone": phone, "code": latest_code(clinic.runtime, phone)}
    )
    assert verified.status_code == 200, verified.text
    return joined.json(), bearer(verified.json())


async def in_batches(count: int, make: Any) -> list[Any]:
    results: list[Any] = []
    for start in range(0, count, AT_ONCE):
        results += await asyncio.gather(
            *(make(i) for i in range(start, min(count, start + AT_ONCE)))
        )
    return results


async def test_300_patients_each_get_the_new_order_after_call_next(
    server: Server,
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    frozen_clock: FrozenClock,
) -> None:
    clinic = QueueClinic(client, accounts, runtime)
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    topic = f"queue:{doctor.id}:{TODAY}"

    people = [
        await signed_in_walk_in(clinic, desk, str(doctor.id), f"+2547330{i:05d}")
        for i in range(PATIENTS)
    ]
    assert [entry["token"] for entry, _ in people] == list(range(1, PATIENTS + 1))

    async def follow(i: int) -> tuple[Socket, dict[str, Any]]:
        socket = await connect(server, people[i][1])
        snapshot = await socket.subscribe(topic)
        assert [event["type"] for event in snapshot] == ["queue.snapshot"]
        return socket, snapshot[0]["data"]

    followers: list[tuple[Socket, dict[str, Any]]] = await in_batches(PATIENTS, follow)
    try:
        # Each patient's snapshot holds their own place and nobody else's, and no names.
        for (entry, _), (_, data) in zip(people, followers, strict=True):
            assert [own["token"] for own in data["entries"]] == [entry["token"]]
            own = data["entries"][0]
            assert own["position"] == entry["token"] - 1
            assert own["estimated_wait_minutes"] > 0 or own["position"] == 0
            assert own["patient_name"] is None
            assert data["serving_token"] is None
            assert data["waiting_count"] == PATIENTS

        called = await client.post(f"/api/queue/{doctor.id}/call-next", headers=doctor_headers)
        assert called.status_code == 200, called.text

        async def update_of(socket: Socket) -> dict[str, Any]:
            frame = await socket.until(
                lambda f: f.get("topic") == topic and f.get("type") == "queue.updated", wait=30
            )
            data: dict[str, Any] = frame["data"]
            return data

        updates = await asyncio.gather(*(update_of(socket) for socket, _ in followers))
    finally:
        await asyncio.gather(*(socket.close() for socket, _ in followers))

    expected_order = list(range(2, PATIENTS + 1))
    assert len(updates) == PATIENTS
    for data in updates:
        assert data["serving_token"] == 1
        assert data["waiting_count"] == PATIENTS - 1
        assert data["changed"] == [
            {"id": people[0][0]["id"], "token": 1, "status": "in_consultation"}
        ]
    # A few in full: the position each page shows is the index of its token in `order`.
    for token in (2, 3, 150, PATIENTS):
        data = updates[token - 1]
        assert data["order"] == expected_order
        assert data["order"].index(token) == token - 2
        assert "entries" not in data


async def test_a_patient_without_a_place_cannot_follow_the_queue(
    server: Server,
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    frozen_clock: FrozenClock,
) -> None:
    clinic = QueueClinic(client, accounts, runtime)
    doctor, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    await signed_in_walk_in(clinic, desk, str(doctor.id), "+254733099999")
    _, outsider_headers = await clinic.patient()

    socket = await connect(server, outsider_headers)
    try:
        await socket.send(op="subscribe", topic=f"queue:{doctor.id}:{TODAY}")
        reply = await socket.until(lambda f: f.get("op") in {"error", "subscribed"})
    finally:
        await socket.close()
    assert reply["op"] == "error"
