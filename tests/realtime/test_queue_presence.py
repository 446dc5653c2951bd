"""Only the queue's own doctor makes a queue's presence; patients following it do not."""

from __future__ import annotations

from datetime import timedelta

import httpx

from clinicflow.core.clock import FrozenClock
from clinicflow.identity.models import User
from clinicflow.queue import events as queue_events
from clinicflow.queue import service as queues
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.queue.clinic import TODAY, QueueClinic
from tests.realtime.conftest import Server, connect


async def one_waiting(
    clinic: QueueClinic,
) -> tuple[User, dict[str, str], dict[str, str], dict[str, str]]:
    """A doctor, the front desk and one patient checked in to today's queue: (doctor,
    doctor's headers, desk's headers, patient's headers)."""
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    _patient, patient_headers, _entry = await clinic.booked_and_checked_in(
        desk, doctor, "2026-03-02T11:00:00+00:00"
    )
    return doctor, doctor_headers, desk, patient_headers


async def test_the_doctor_following_the_queue_is_present_and_patients_are_not(
    server: Server,
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    frozen_clock: FrozenClock,
) -> None:
    clinic = QueueClinic(client, accounts, runtime)
    doctor, doctor_headers, desk, patient_headers = await one_waiting(clinic)
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


async def test_the_doctor_opening_the_queue_shows_them_back_at_once(
    server: Server,
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    frozen_clock: FrozenClock,
) -> None:
    """Patients and the doctor see the doctor back the moment the doctor follows the
    queue, not at the worker's next sweep (none runs here)."""
    clinic = QueueClinic(client, accounts, runtime)
    doctor, doctor_headers, desk, patient_headers = await one_waiting(clinic)
    async with runtime.transaction() as session:
        await queues.mark_doctors_away(session=session, present=set(), away_after=timedelta())
    topic = f"queue:{doctor.id}:{TODAY}"

    patient_socket = await connect(server, patient_headers)
    (snapshot,) = await patient_socket.subscribe(topic)
    assert snapshot["data"]["doctor_away"] is True

    doctor_socket = await connect(server, doctor_headers)
    # The doctor's own page is put right before the subscription is confirmed.
    doctor_snapshot, doctor_back = await doctor_socket.subscribe(topic)
    assert doctor_snapshot["type"] == "queue.snapshot"
    patient_back = await patient_socket.until(lambda f: f.get("type") == "queue.updated")
    for back in (doctor_back, patient_back):
        assert back["type"] == "queue.updated"
        assert back["data"]["doctor_away"] is False
        assert back["data"]["revision"] > snapshot["data"]["revision"]
    assert (await clinic.queue(doctor, desk))["doctor_away"] is False

    # A second tab changes nothing more: the doctor is already there.
    second_tab = await connect(server, doctor_headers)
    (again,) = await second_tab.subscribe(topic)
    assert again["data"]["doctor_away"] is False
    await patient_socket.send(op="ping")
    pong_or_update = await patient_socket.until(
        lambda f: f.get("op") == "pong" or f.get("type") == "queue.updated"
    )
    assert pong_or_update.get("op") == "pong"
    for socket in (patient_socket, doctor_socket, second_tab):
        await socket.close()
