"""The read verbs behind the home pages, on a known day: the frozen clock stands at Monday
2026-03-02 09:00 UTC (12:00 in Nairobi, the clinic's zone)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from clinicflow.config import Settings
from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationStatus, ConsultationType
from clinicflow.core import clock
from clinicflow.core.clock import FrozenClock
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.identity.schemas import Role
from clinicflow.notifications import service as notifications
from clinicflow.notifications.models import Delivery
from clinicflow.notifications.schemas import DeliveryStatus, Kind
from clinicflow.queue import service as queues
from clinicflow.records import service as records
from clinicflow.runtime import Runtime
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import AppointmentStatus
from tests.factories import Accounts
from tests.notifications.helpers import notify
from tests.queue.clinic import AFTERNOON, QueueClinic
from tests.records.clinic import RecordsClinic

pytestmark = pytest.mark.usefixtures("app")
NAIROBI = ZoneInfo("Africa/Nairobi")
TUESDAY = "2026-03-03T06:00:00+00:00"


@pytest.fixture
def records_clinic(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, settings: Settings
) -> RecordsClinic:
    return RecordsClinic(client, accounts, runtime, settings)


async def test_todays_appointments_and_queue_counts_on_a_known_day(
    clinic: QueueClinic, runtime: Runtime
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    other, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    checked_in, _h, _entry = await clinic.booked_and_checked_in(desk, doctor, AFTERNOON[0])
    later, later_headers = await clinic.patient()
    assert (await clinic.book(later_headers, doctor, AFTERNOON[4])).status_code == 201
    assert (await clinic.book(later_headers, doctor, TUESDAY)).status_code == 201
    cancelled = await clinic.book(later_headers, other, AFTERNOON[2])
    assert (
        await clinic.client.post(
            f"/api/appointments/{cancelled.json()['id']}/cancel", headers=later_headers
        )
    ).status_code == 200
    assert (await clinic.walk_in(desk, doctor, "+254700000301")).status_code == 201
    receptionist = await clinic.accounts.make(Role.receptionist)
    async with runtime.transaction() as session:
        as_doctor = await scheduling.appointments_today(session=session, actor=doctor, zone=NAIROBI)
        as_desk = await scheduling.appointments_today(
            session=session, actor=receptionist, zone=NAIROBI
        )
        as_patient = await scheduling.appointments_today(session=session, actor=later, zone=NAIROBI)
        counts = await queues.queues_today(
            session=session, actor=receptionist, doctor_ids=[doctor.id, other.id]
        )
        mine = await queues.queues_today(session=session, actor=doctor, doctor_ids=[doctor.id])
        upcoming = await scheduling.next_appointment(session=session, actor=later)
        none_for_checked_in = await scheduling.next_appointment(session=session, actor=checked_in)
        with pytest.raises(AppError) as refused:
            await queues.queues_today(session=session, actor=later, doctor_ids=[doctor.id])
        with pytest.raises(AppError):
            await queues.queues_today(session=session, actor=doctor, doctor_ids=[other.id])
    # The doctor's own two of today (Tuesday's is not today's); the desk sees the other
    # doctor's cancelled one too, with its status; the patient only their own.
    assert [(a.patient_id, a.status) for a in as_doctor] == [
        (checked_in.id, AppointmentStatus.checked_in),
        (later.id, AppointmentStatus.booked),
    ]
    assert [a.status for a in as_desk] == [
        AppointmentStatus.checked_in,
        AppointmentStatus.cancelled,
        AppointmentStatus.booked,
    ]
    assert {a.patient_id for a in as_patient} == {later.id}
    assert len(as_patient) == 2
    assert upcoming is not None
    assert upcoming.starts_at.isoformat() == AFTERNOON[4]
    # Checked in today: still their next appointment until it is over.
    assert none_for_checked_in is not None
    assert refused.value.code is ErrorCode.not_found
    first, second = counts
    assert (first.joined, first.waiting, first.completed, first.no_shows) == (2, 2, 0, 0)
    assert (second.joined, second.waiting, second.revision) == (0, 0, 0)
    assert mine[0] == first
    assert first.topic == f"queue:{doctor.id}:2026-03-02"

    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert called.status_code == 200, called.text
    finished = await clinic.act(
        doctor_headers, f"entries/{called.json()['id']}/finish-and-call-next"
    )
    assert finished.status_code == 200, finished.text
    async with runtime.transaction() as session:
        (after,) = await queues.queues_today(session=session, actor=doctor, doctor_ids=[doctor.id])
    assert (after.waiting, after.in_consultation, after.completed) == (0, 1, 1)
    assert after.revision > first.revision


async def test_the_day_is_the_clinics_not_utcs(clinic: QueueClinic, runtime: Runtime) -> None:
    """At 09:00 UTC it is Monday noon in Nairobi but already 23:00 on Monday at Kiritimati
    (UTC+14), where a 14:00 Nairobi appointment (11:00 UTC) falls on Tuesday: the clinic's
    zone decides which appointments are today's."""
    doctor, _ = await clinic.doctor()
    patient, headers = await clinic.patient()
    assert (await clinic.book(headers, doctor, AFTERNOON[0])).status_code == 201
    async with runtime.transaction() as session:
        nairobi = await scheduling.appointments_today(session=session, actor=patient, zone=NAIROBI)
        kiritimati = await scheduling.appointments_today(
            session=session, actor=patient, zone=ZoneInfo("Pacific/Kiritimati")
        )
    assert len(nairobi) == 1
    assert kiritimati == []


async def test_requests_notes_and_the_last_prescription(
    records_clinic: RecordsClinic, runtime: Runtime, frozen_clock: FrozenClock
) -> None:
    clinic = records_clinic
    doctor, other = await clinic.doctor(), await clinic.doctor()
    patient = await clinic.patient()
    await clinic.consultation(patient, doctor)
    frozen_clock.advance(minutes=1)
    await clinic.consultation(patient, doctor, type=ConsultationType.video)
    await clinic.consultation(patient, other)
    noted = await clinic.visit(patient, doctor)
    unnoted = await clinic.visit(patient, doctor)
    await clinic.consultation(patient, doctor, ConsultationStatus.declined)
    assert (await clinic.note(doctor, noted.id)).status_code == 200
    first = await clinic.prescribe(doctor, noted.id)
    assert first.status_code == 201, first.text
    frozen_clock.advance(minutes=5)
    latest = await clinic.prescribe(doctor, unnoted.id, medications=[{"name": "Ibuprofen"}])
    assert latest.status_code == 201, latest.text
    start = clock.now() - timedelta(hours=1)
    async with runtime.transaction() as session:
        count, requests = await consultations.pending_requests(session=session, actor=doctor.user)
        patients_count, _none = await consultations.pending_requests(
            session=session, actor=patient.user
        )
        missing = await records.visits_without_note(
            session=session, actor=doctor.user, start=start, end=clock.now()
        )
        others = await records.visits_without_note(
            session=session, actor=other.user, start=start, end=clock.now()
        )
        last = await records.last_prescription(
            session=session, actor=patient.user, public_url="https://clinic.test"
        )
        with pytest.raises(AppError) as refused:
            await records.last_prescription(
                session=session, actor=doctor.user, public_url="https://clinic.test"
            )
    assert count == 2
    assert [r.type for r in requests] == [ConsultationType.chat, ConsultationType.video]
    assert {r.doctor_id for r in requests} == {doctor.id}
    assert patients_count == 0
    assert [m.consultation_id for m in missing] == [unnoted.id]
    assert missing[0].patient_name == patient.user.name
    assert others == []
    assert last is not None
    assert [m.name for m in last.medications] == ["Ibuprofen"]
    assert refused.value.code is ErrorCode.not_found
    # A visit that ended yesterday is not today's to note.
    async with runtime.transaction() as session:
        tomorrow = await records.visits_without_note(
            session=session,
            actor=doctor.user,
            start=clock.now() + timedelta(hours=1),
            end=clock.now() + timedelta(days=1),
        )
    assert tomorrow == []


async def test_failed_deliveries_count_what_failed_recently_for_admins_only(
    accounts: Accounts, runtime: Runtime
) -> None:
    patient = await accounts.make(Role.patient)
    admin = await accounts.make(Role.admin)
    receptionist = await accounts.make(Role.receptionist)
    ids = [await notify(runtime, patient.id, Kind.booking_confirmed) for _ in range(3)]
    async with runtime.transaction() as session:
        rows = list(
            await session.scalars(
                select(Delivery)
                .where(Delivery.notification_id.in_(ids), Delivery.channel == "sms")
                .order_by(Delivery.created_at)
            )
        )
        rows[0].status = DeliveryStatus.failed
        rows[1].status = DeliveryStatus.gave_up
        rows[2].status = DeliveryStatus.gave_up
        rows[2].created_at = clock.now() - timedelta(days=30)
    async with runtime.transaction() as session:
        found = await notifications.failed_deliveries(
            session=session, actor=admin, since=clock.now() - timedelta(days=7)
        )
        with pytest.raises(AppError) as refused:
            await notifications.failed_deliveries(
                session=session, actor=receptionist, since=clock.now()
            )
    assert (found.failed, found.gave_up, found.total) == (1, 1, 2)
    assert refused.value.code is ErrorCode.forbidden
