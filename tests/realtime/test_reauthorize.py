"""Access that follows a change: a role change or a deactivation reaches the sockets that
are already open, at once, on every process."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from websockets.exceptions import ConnectionClosed

from clinicflow.app import create_app
from clinicflow.config import Settings
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic, Person
from tests.realtime.conftest import Server, Socket, connect, serving


def is_message(frame: dict[str, Any]) -> bool:
    return frame.get("type") == "message.created"


async def change(
    client: httpx.AsyncClient, admin: Person, user_id: uuid.UUID, **fields: Any
) -> None:
    response = await client.patch(f"/api/admin/users/{user_id}", json=fields, headers=admin.headers)
    assert response.status_code == 200, response.text


async def following_admin(
    server: Server, clinic: Clinic
) -> tuple[Person, Person, Socket, str, uuid.UUID]:
    """An admin following an active consultation, live; the doctor, the topic, its id."""
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    topic = f"consultation:{consultation.id}"
    watcher = await clinic.staff(Role.admin)
    socket = await connect(server, headers=watcher.headers)
    await socket.subscribe(topic, since=consultation.last_seq)
    await clinic.send(doctor, consultation.id, "before")
    assert (await socket.until(is_message))["data"]["body"] == "before"
    return watcher, doctor, socket, topic, consultation.id


async def test_a_demoted_admin_stops_receiving_a_consultation_at_once(
    server: Server, clinic: Clinic, client: httpx.AsyncClient
) -> None:
    watcher, doctor, socket, topic, consultation_id = await following_admin(server, clinic)
    other_admin = await clinic.staff(Role.admin)
    await change(client, other_admin, watcher.id, role=Role.receptionist.value)
    # The very next message is not theirs to see, and the API agrees.
    await clinic.send(doctor, consultation_id, "after")
    assert await socket.receive() == {"op": "unsubscribed", "topic": topic, "code": "not_found"}
    await socket.send(op="ping")
    assert await socket.receive() == {"op": "pong"}  # nothing came in between
    refused = await client.get(f"/api/consultations/{consultation_id}", headers=watcher.headers)
    assert refused.status_code == 404
    # Subscribing again is refused like any topic they may not follow.
    await socket.send(op="subscribe", topic=topic, since=0)
    assert (await socket.receive())["code"] == "not_found"
    await socket.close()


async def test_a_role_change_that_keeps_access_loses_nothing(
    server: Server, clinic: Clinic, client: httpx.AsyncClient
) -> None:
    """Live events are held while the change is checked, then released in order: a doctor
    made an admin still follows their consultation and misses nothing."""
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    topic = f"consultation:{consultation.id}"
    socket = await connect(server, headers=doctor.headers)
    await socket.subscribe(topic, since=consultation.last_seq)
    admin = await clinic.staff(Role.admin)
    await clinic.send(patient, consultation.id, "m0")
    await change(client, admin, doctor.id, role=Role.admin.value)
    for n in range(1, 4):
        await clinic.send(patient, consultation.id, f"m{n}")
    frames = [await socket.until(lambda frame: frame.get("topic") == topic) for _ in range(4)]
    assert [frame["data"]["body"] for frame in frames] == ["m0", "m1", "m2", "m3"]
    assert [frame["seq"] for frame in frames] == list(
        range(consultation.last_seq + 1, consultation.last_seq + 5)
    )
    await socket.close()


async def test_a_deactivated_users_sockets_close(
    server: Server, clinic: Clinic, client: httpx.AsyncClient
) -> None:
    """The test server checks logins only when a frame asks (no sweep): the close comes
    from the change itself."""
    watcher, _, socket, _, _ = await following_admin(server, clinic)
    second = await connect(server, headers=watcher.headers)
    await second.subscribe(f"user:{watcher.id}")
    other_admin = await clinic.staff(Role.admin)
    await change(client, other_admin, watcher.id, is_active=False)
    for each in (socket, second):
        with pytest.raises(ConnectionClosed) as closed:
            await each.drain()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401


async def test_the_login_sweep_catches_a_role_changed_without_the_hook(
    settings: Settings, clinic: Clinic, runtime: Runtime
) -> None:
    """A role written by another tool (no hook in its session) is seen by the sweep, which
    starts the same check."""
    rechecking = create_app(settings.model_copy(update={"ws_login_recheck_seconds": 0.5}))
    try:
        async with serving(rechecking) as server:
            patient, doctor = await clinic.patient(), await clinic.doctor()
            consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
            topic = f"consultation:{consultation.id}"
            watcher = await clinic.staff(Role.admin)
            socket = await connect(server, headers=watcher.headers)
            await socket.subscribe(topic, since=consultation.last_seq)
            async with runtime.engine.begin() as connection:
                await connection.execute(
                    update(User).where(User.id == watcher.id).values(role=Role.receptionist)
                )
            frame = await socket.receive()
            assert frame == {"op": "unsubscribed", "topic": topic, "code": "not_found"}
            await socket.close()
    finally:
        await rechecking.state.runtime.close()


async def test_a_role_change_reaches_a_socket_on_another_process(
    two_servers: list[Server], clinic: Clinic, client: httpx.AsyncClient
) -> None:
    """The change is made by this test's app; the socket is on a `clinicflow serve`
    process: the broker carries the news."""
    _, second = two_servers
    watcher, doctor, socket, topic, consultation_id = await following_admin(second, clinic)
    other_admin = await clinic.staff(Role.admin)
    await change(client, other_admin, watcher.id, role=Role.receptionist.value)
    await clinic.send(doctor, consultation_id, "after")
    assert await socket.receive() == {"op": "unsubscribed", "topic": topic, "code": "not_found"}
    await socket.send(op="ping")
    assert await socket.receive() == {"op": "pong"}
    await socket.close()
