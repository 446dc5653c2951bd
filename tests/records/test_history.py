"""The patient's history: appointments and consultations newest first, 20 at a time with a
cursor, filters by dates and doctor, search within the patient's own notes and messages,
and audited doctor reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.models import Role
from tests.consultations.clinic import Person
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
