"""The patient's history: appointments and consultations newest first, 20 at a time with a
cursor, filters by dates and doctor, search within the patient's own notes and messages,
and audited doctor reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationType
from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.records import service as records
from clinicflow.runtime import Runtime
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import Mode
from tests.consultations.clinic import TEST_PENDING, Person
from tests.factories import Accounts
from tests.records.clinic import RecordsClinic

pytestmark = pytest.mark.usefixtures("app")
TUESDAY_9 = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)  # 09:00 in Nairobi


async def pages(
    clinic: RecordsClinic, person: Person, patient: Person, **params: Any
) -> list[list[dict[str, Any]]]:
    found, cursor = [], None
    while True:
        response = await clinic.client.get(
            f"/api/patients/{patient.id}/history",
            params={**params, **({"cursor": cursor} if cursor else {})},
            headers=person.headers,
        )
        assert response.status_code == 200, response.text
        found.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return found


async def test_pages_of_twenty_newest_first_each_item_once(
    clinic: RecordsClinic, frozen_clock: FrozenClock
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    await clinic.working_week(doctor)
    appointment = await clinic.appointment(patient, doctor, TUESDAY_9)
    visits = []
    for n in range(24):
        if n % 8 == 0:
            frozen_clock.advance(minutes=1)  # many share a time: the id breaks the tie
        visits.append(await clinic.visit(patient, doctor))

    result = await pages(clinic, patient, patient)
    assert [len(page) for page in result] == [20, 5]
    items = [item for page in result for item in page]
    assert items[0]["kind"] == "appointment"  # Tuesday is after every consultation
    assert items[0]["id"] == str(appointment.id)
    assert {item["id"] for item in items[1:]} == {str(v.id) for v in visits}
    keys = [(item["at"], item["id"]) for item in items]
    assert keys == sorted(keys, reverse=True)
    for item in items:
        assert {"kind", "id", "doctor_id", "at"} <= item.keys()
        assert item["doctor_id"] == str(doctor.id)
    assert (items[1]["mode"], items[1]["status"]) == ("chat", "ended")

    small = await pages(clinic, patient, patient, limit=7)
    assert [item["id"] for page in small for item in page] == [item["id"] for item in items]


async def test_filters_by_dates_and_doctor(
    clinic: RecordsClinic, frozen_clock: FrozenClock
) -> None:
    patient, first, second = await clinic.patient(), await clinic.doctor(), await clinic.doctor()
    early = await clinic.visit(patient, first)
    frozen_clock.advance(days=2)
    later_first = await clinic.visit(patient, first)
    later_second = await clinic.visit(patient, second)

    def ids(result: list[list[dict[str, Any]]]) -> set[str]:
        return {item["id"] for page in result for item in page}

    admin = await clinic.staff(Role.admin)
    assert ids(await pages(clinic, admin, patient, to="2026-03-02")) == {str(early.id)}
    assert ids(await pages(clinic, admin, patient, **{"from": "2026-03-03"})) == {
        str(later_first.id),
        str(later_second.id),
    }
    assert ids(await pages(clinic, admin, patient, doctor_id=str(second.id))) == {
        str(later_second.id)
    }
    assert ids(
        await pages(clinic, admin, patient, doctor_id=str(first.id), **{"from": "2026-03-04"})
    ) == {str(later_first.id)}


async def test_search_covers_the_patients_own_notes_and_messages(clinic: RecordsClinic) -> None:
    patient, doctor, other = await clinic.patient(), await clinic.doctor(), await clinic.patient()
    talked = await clinic.consultation(patient, doctor)
    await clinic.client.post(f"/api/consultations/{talked.id}/accept", headers=doctor.headers)
    await clinic.send(patient, talked.id, "Sharp CHEST pain when climbing stairs")
    await clinic.client.post(f"/api/consultations/{talked.id}/end", headers=doctor.headers)
    noted = await clinic.visit(patient, doctor)
    await clinic.note(doctor, noted.id, body_markdown="Positive test for *malaria*")
    prescribed = await clinic.visit(patient, doctor)
    await clinic.prescribe(doctor, prescribed.id)
    others = await clinic.visit(other, doctor)
    await clinic.note(doctor, others.id, body_markdown="malaria chest pain amoxicillin")

    async def search(q: str) -> list[str]:
        result = await pages(clinic, patient, patient, q=q)
        return [item["id"] for page in result for item in page]

    assert await search("chest pain") == [str(talked.id)]
    assert await search("MALARIA") == [str(noted.id)]
    assert await search("amoxicillin") == [str(prescribed.id)]
    assert await search("pain malaria") == []
    assert await search("tuberculosis") == []
    doctors_view = await pages(clinic, doctor, patient, q="malaria")
    assert [item["id"] for item in doctors_view[0]] == [str(noted.id)]


async def test_doctor_reads_are_audited_and_the_patients_own_are_not(
    clinic: RecordsClinic, session: AsyncSession
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    await clinic.visit(patient, doctor)
    await pages(clinic, patient, patient)
    await pages(clinic, doctor, patient, q="headache")
    rows = list(
        await session.scalars(select(AuditEntry).where(AuditEntry.action == "records.history_read"))
    )
    assert [(r.actor_id, str(r.resource_id), r.details) for r in rows] == [
        (doctor.id, str(patient.id), {"items": 0, "view": "full", "searched": True})
    ]


async def test_a_bad_cursor_is_a_422(clinic: RecordsClinic) -> None:
    patient = await clinic.patient()
    response = await clinic.client.get(
        f"/api/patients/{patient.id}/history",
        params={"cursor": "nonsense"},
        headers=patient.headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "cursor"


async def test_the_ends_of_the_calendar_are_accepted(clinic: RecordsClinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    result = await pages(clinic, patient, patient, **{"from": "0001-01-01", "to": "9999-12-31"})
    assert [item["id"] for item in result[0]] == [str(visit.id)]


@examples(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    minutes=st.lists(st.integers(min_value=0, max_value=2), min_size=0, max_size=9),
    appointments=st.integers(min_value=0, max_value=3),
    limit=st.integers(min_value=1, max_value=6),
)
async def test_any_page_size_lists_every_item_once_in_order(
    accounts: Accounts,
    runtime: Runtime,
    settings: Settings,
    frozen_clock: FrozenClock,
    minutes: list[int],
    appointments: int,
    limit: int,
) -> None:
    """Consultations at a few shared instants (ties broken by id) and appointments, paged
    with any size, give exactly the one-page answer: nothing skipped, nothing twice."""
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    patient = await accounts.make(Role.patient)
    doctor = await accounts.make(Role.doctor)
    async with runtime.transaction() as session:
        await scheduling.set_availability(
            session=session,
            actor=doctor,
            doctor_id=doctor.id,
            timezone="Africa/Nairobi",
            slot_minutes=15,
            weekly={"tue": [("08:00", "12:00")]},
            exceptions=[],
        )
    for n in range(appointments):
        frozen_clock.current = start
        async with runtime.transaction() as session:
            await scheduling.book(
                session=session,
                settings=settings,
                actor=patient,
                doctor_id=doctor.id,
                starts_at=TUESDAY_9 + timedelta(minutes=15 * n),
                mode=Mode.online,
            )
    for minute in minutes:
        frozen_clock.current = start + timedelta(minutes=minute)
        async with runtime.transaction() as session:
            await consultations.start(
                session=session,
                actor=patient,
                max_pending=TEST_PENDING,
                doctor_id=doctor.id,
                problem="Property",
                type=ConsultationType.chat,
            )

    async def page(cursor: str | None, size: int) -> tuple[list[str], str | None]:
        async with runtime.transaction() as session:
            answer = await records.history(
                session=session,
                actor=patient,
                patient_id=patient.id,
                public_url="http://testserver",
                cursor=cursor,
                limit=size,
            )
        return [f"{item.at.isoformat()} {item.id}" for item in answer.items], answer.next_cursor

    everything, rest = await page(None, 100)
    assert rest is None
    assert len(everything) == len(minutes) + appointments
    assert everything == sorted(everything, reverse=True)
    paged, cursor = [], None
    while True:
        items, cursor = await page(cursor, limit)
        assert len(items) <= limit
        paged += items
        if cursor is None:
            break
    assert paged == everything
