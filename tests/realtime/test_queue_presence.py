"""Only the queue's own doctor makes a queue's presence; patients following it do not."""

from __future__ import annotations

import httpx

from clinicflow.core.clock import FrozenClock
from clinicflow.queue import events as queue_events
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.queue.clinic import TODAY, QueueClinic
from tests.realtime.conftest import Server, connect


async def test_the_doctor_following_the_queue_is_present_and_patients_are_not(
    server: Server,
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    frozen_clock: FrozenClock,
) -> None:
    clinic = QueueClinic(client, accounts, runtime)
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    _patient, patient_headers, _entry = await clinic.booked_and_checked_in(
        desk, doctor, "2026-03-02T11:00:00+00:00"
    )
    topic = f"queue:{doctor.id}:{TODAY}"
    presence = f"{queue_events.PRESENCE}:{doctor.id}:{TODAY}"

    patient_socket = await connect(server, patient_headers)
    snapshot = await patient_socket.subscribe(topic)
    assert snapshot[0]["type"] == "queue.snapshot"
    assert await runtime.broker.presence.users(presence) == []

    desk_socket = await connect(server, desk)
    await desk_socket.subscribe(topic)
    assert await runtime.broker.presence.users(presence) == []

    doctor_socket = await connect(server, doctor_headers)
    await doctor_socket.subscribe(topic)
    assert await runtime.broker.presence.users(presence) == [str(doctor.id)]
    await doctor_socket.close()
    # The server notices the close on its own time; a ping round trip lets it run.
    for _ in range(50):
        if not await runtime.broker.presence.users(presence):
            break
        await patient_socket.send(op="ping")
        await patient_socket.until(lambda f: f.get("op") == "pong")
    assert await runtime.broker.presence.users(presence) == []
    await patient_socket.close()
    await desk_socket.close()
