"""Each type of notification fires on its trigger, in the recipient's language, on the
right channels: bookings, the queue's milestones and calls, consultations. The reminders
are scheduling's worker job: `tests/test_worker.py`."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.core.clock import FrozenClock
from clinicflow.identity import service as identity
from clinicflow.identity.models import User
from clinicflow.queue import service as queues
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic
from tests.notifications.helpers import kinds, told
from tests.queue.clinic import AFTERNOON, QueueClinic
from tests.scheduling.clinic import TUESDAY_9, TUESDAY_915

pytestmark = pytest.mark.usefixtures("app")


async def speaks_swahili(runtime: Runtime, user: User) -> None:
    async with runtime.transaction() as session:
        found = await identity.users(session, [user.id])
        await identity.set_preferred_language(session=session, user=found[0], language="sw")


async def test_booking_confirmed_moved_and_cancelled_in_swahili(
    clinic: QueueClinic, runtime: Runtime, session: AsyncSession, frozen_clock: FrozenClock
) -> None:
    doctor, _doctor_headers = await clinic.doctor()
    patient, headers = await clinic.patient()
    await speaks_swahili(runtime, patient)
    booked = await clinic.book(headers, doctor, TUESDAY_9)
    assert booked.status_code == 201, booked.text
    appointment = booked.json()["id"]
    frozen_clock.advance(seconds=1)
    moved = await clinic.client.post(
        f"/api/appointments/{appointment}/reschedule",
        json={"starts_at": TUESDAY_915},
        headers=headers,
    )
    assert moved.status_code == 200, moved.text
    frozen_clock.advance(seconds=1)
    cancelled = await clinic.client.post(f"/api/appointments/{appointment}/cancel", headers=headers)
    assert cancelled.status_code == 200, cancelled.text

    found = await told(session, patient.id)
    assert kinds(found) == ["booking_confirmed", "booking_moved", "booking_cancelled"]
    assert all(channels == {"in_app", "sms"} for _kind, channels, _body in found)
    confirmed, moved_to, cancelled_body = (body for _kind, _channels, body in found)
    assert confirmed == (
        f"Miadi yako na {doctor.name} tarehe 3 Mac 2026 09:00 (Africa/Nairobi) imethibitishwa."
    )
    assert "3 Mac 2026 09:15 (Africa/Nairobi)" in moved_to
    assert cancelled_body.startswith("Miadi yako na")


async def test_the_queue_tells_patients_as_they_move_up_and_are_called(
    clinic: QueueClinic, session: AsyncSession, frozen_clock: FrozenClock
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    entries = []
    for n in range(12):
        response = await clinic.walk_in(desk, doctor, f"+2547009000{n:02d}")
        assert response.status_code == 201, response.text
        entries.append(response.json())
    patients = [uuid.UUID(e["patient_id"]) for e in entries]

    first = {kind: (channels, body) for kind, channels, body in await told(session, patients[0])}
    assert set(first) == {"checked_in", "queue_next"}
    assert first["checked_in"] == ({"in_app", "sms"}, f"Your token for {doctor.name} is 1.")
    assert set(kinds(await told(session, patients[2]))) == {"checked_in", "queue_top3"}
    tenth = {kind: channels for kind, channels, _body in await told(session, patients[9])}
    assert tenth == {"checked_in": {"in_app", "sms"}, "queue_top10": {"in_app"}}
    assert kinds(await told(session, patients[10])) == ["checked_in"]

    frozen_clock.advance(seconds=1)
    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert called.status_code == 200, called.text
    turn = (await told(session, patients[0]))[-1]
    assert turn == (
        "queue_turn",
        {"in_app", "sms"},
        f"Token 1: {doctor.name} is ready to see you now.",
    )
    assert kinds(await told(session, patients[1]))[-1] == "queue_next"
    assert kinds(await told(session, patients[3]))[-1] == "queue_top3"
    assert kinds(await told(session, patients[10]))[-1] == "queue_top10"

    frozen_clock.advance(seconds=1)
    missed = await clinic.act(doctor_headers, f"entries/{called.json()['id']}/no-show")
    assert missed.status_code == 200, missed.text
    assert kinds(await told(session, patients[0]))[-1] == "queue_missed"
    assert "new token" in (await told(session, patients[0]))[-1][2]


async def test_a_requeue_tells_the_new_token(
    clinic: QueueClinic, session: AsyncSession, frozen_clock: FrozenClock
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    patient, _headers, entry = await clinic.booked_and_checked_in(desk, doctor, AFTERNOON[0])
    assert set(kinds(await told(session, patient.id))[-2:]) == {"checked_in", "queue_next"}
    await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    await clinic.act(doctor_headers, f"entries/{entry['id']}/no-show")
    frozen_clock.advance(hours=2)
    desk = await clinic.front_desk()
    again = await clinic.act(desk, f"entries/{entry['id']}/requeue", {"reason": "came back"})
    assert again.status_code == 201, again.text
    new_token = again.json()["token"]
    last = [found for found in await told(session, patient.id) if found[0] == "queue_new_token"]
    assert [body for _kind, _channels, body in last] == [
        f"Your new token for {doctor.name} is {new_token}."
    ]


async def test_waiting_patients_are_told_when_the_doctor_is_away(
    clinic: QueueClinic, runtime: Runtime, session: AsyncSession, frozen_clock: FrozenClock
) -> None:
    doctor, _doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    walked = await clinic.walk_in(desk, doctor, "+254700555001")
    patient_id = uuid.UUID(walked.json()["patient_id"])
    frozen_clock.advance(seconds=1)
    async with runtime.transaction() as tx:
        assert await queues.mark_doctors_away(session=tx, present=set(), away_after=timedelta(0))
    assert kinds(await told(session, patient_id))[-1] == "doctor_away"


@pytest.fixture
def people(clinic: QueueClinic, accounts: object, runtime: Runtime) -> Clinic:
    return Clinic(clinic.client, clinic.accounts, runtime)


async def test_consultation_accepted_declined_and_ended(
    people: Clinic, session: AsyncSession
) -> None:
    patient = await people.patient()
    doctor = await people.doctor()
    await people.consultation(patient, doctor, ConsultationStatus.ended)
    await people.consultation(patient, doctor, ConsultationStatus.declined)
    found = {kind: (channels, body) for kind, channels, body in await told(session, patient.id)}
    assert set(found) == {"consult_accepted", "consult_ended", "consult_declined"}
    accepted = ({"in_app"}, f"{doctor.user.name} accepted your consultation.")
    assert found["consult_accepted"] == accepted
    assert found["consult_declined"][0] == {"in_app", "sms"}


async def test_a_chat_message_notifies_only_a_patient_who_is_not_there(
    people: Clinic, runtime: Runtime, session: AsyncSession
) -> None:
    patient = await people.patient()
    doctor = await people.doctor()
    consultation = await people.consultation(patient, doctor, ConsultationStatus.active)
    assert (await people.send(doctor, consultation.id, "How are you feeling?")).status_code == 201
    assert (await people.send(patient, consultation.id, "Better")).status_code == 201
    await runtime.broker.presence.join(f"presence:{consultation.id}", str(patient.id), "tab-1")
    assert (await people.send(doctor, consultation.id, "Good")).status_code == 201
    found = [(kind, body) for kind, _channels, body in await told(session, patient.id)]
    assert sorted(found) == [
        ("chat_message", f"{doctor.user.name} wrote to you in your consultation."),
        ("consult_accepted", f"{doctor.user.name} accepted your consultation."),
    ]
    assert kinds(await told(session, doctor.id)) == []
