"""docs/life-of-a-booking.md, followed step by step on a real server.

The page walks `POST /api/appointments` from the route to the service, the rows, the outbox
and the frames each browser receives. This test takes exactly that path, over real TCP and
real sockets, and checks every stop the page names, so the page cannot drift from the code
without this test failing.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from clinicflow.core.audit import AuditEntry
from clinicflow.notifications.models import Delivery, Notification
from clinicflow.runtime import Runtime
from clinicflow.scheduling.models import Appointment
from tests.realtime.conftest import Server, connect
from tests.scheduling.clinic import TUESDAY_9, Clinic, at

pytestmark = pytest.mark.usefixtures("app")


async def test_a_booking_from_the_route_to_every_browser(
    server: Server, clinic: Clinic, runtime: Runtime
) -> None:
    doctor, _ = await clinic.doctor()
    patient, patient_headers = await clinic.patient()
    _, other_patient_headers = await clinic.patient()

    # Two browsers are open before the booking: the patient's own page follows their
    # notifications, another patient's booking page follows the doctor's free times.
    own_socket = await connect(server, patient_headers)
    await own_socket.subscribe(f"user:{patient.id}")
    other_socket = await connect(server, other_patient_headers)
    await other_socket.subscribe(f"availability:{doctor.id}")

    # 1. The route: scheduling/api.py create_appointment, one transaction (routing.py).
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        response = await http.post(
            "/api/appointments",
            json={
                "doctor_id": str(doctor.id),
                "starts_at": TUESDAY_9,
                "mode": "in_person",
                "reason": "Cough",
            },
            headers=patient_headers,
        )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "booked"
    assert body["patient_id"] == str(patient.id)

    # 2. The rows, all committed in that one transaction.
    async with runtime.transaction(write=False) as session:
        appointment = await session.get_one(Appointment, uuid.UUID(body["id"]))
        assert (appointment.doctor_id, appointment.starts_at) == (doctor.id, at(TUESDAY_9))
        assert appointment.booked_by_id == patient.id

        audit_row = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "appointment.book")
        )
        assert audit_row is not None
        assert audit_row.resource_id == body["id"]
        assert audit_row.actor_id == patient.id
        # The address the request came from, bound to the unit of work at the boundary.
        assert audit_row.ip == "127.0.0.1"

        # 3. The outbox: the notification and one delivery per channel, in the same commit.
        notification = await session.scalar(
            select(Notification).where(Notification.appointment_id == appointment.id)
        )
        assert notification is not None
        assert notification.kind == "booking_confirmed"
        deliveries = {
            row.channel: row.status
            for row in await session.scalars(
                select(Delivery).where(Delivery.notification_id == notification.id)
            )
        }
        assert deliveries["in_app"] == "sent"  # the row itself is the in-app copy
        assert deliveries["sms"] == "pending"  # the dispatcher's to send, with retries

    # 4. The frames, sent only after the commit.
    taken = await other_socket.until(lambda frame: frame.get("type") == "availability.changed")
    assert taken["topic"] == f"availability:{doctor.id}"
    assert taken["data"]["free"] is False
    assert at(taken["data"]["starts_at"]) == at(TUESDAY_9)

    told = await own_socket.until(lambda frame: frame.get("type") == "notification.created")
    assert told["topic"] == f"user:{patient.id}"
    assert told["data"]["notification"]["id"] == str(notification.id)
    assert told["data"]["unread_count"] == 1

    await own_socket.close()
    await other_socket.close()
