"""Visit notes: written by the consultation's doctor once it has ended, amended by adding a
version (the earlier text, who and when are kept), rendered safely, audited."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.records.models import ImmutableRecord, VisitNoteVersion
from clinicflow.runtime import Runtime
from tests.records.clinic import NOTE, RecordsClinic, tamper

pytestmark = pytest.mark.usefixtures("app")
S = ConsultationStatus


async def test_the_doctor_writes_the_note_and_the_patient_reads_it(clinic: RecordsClinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)

    written = await clinic.note(doctor, visit.id)
    assert written.status_code == 200, written.text
    read = await clinic.client.get(
        f"/api/consultations/{visit.id}/visit-note", headers=patient.headers
    )
    assert read.status_code == 200
    note = read.json()
    assert {k: note[k] for k in NOTE} == NOTE
    assert note["body_html"] == "<p>Throat <strong>red</strong>, no fever.</p>\n"
    assert note["version"] == 1
    assert note["amended"] is False
    assert note["history"] is None


async def test_an_amendment_keeps_the_earlier_text_who_and_when(
    clinic: RecordsClinic, frozen_clock: FrozenClock, session: AsyncSession
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    await clinic.note(doctor, visit.id, body_markdown="First text")
    frozen_clock.advance(minutes=5)
    amended = await clinic.note(doctor, visit.id, body_markdown="Second text", diagnosis="Flu")
    assert amended.status_code == 200

    for person, history in ((patient, None), (doctor, 1)):
        note = (
            await clinic.client.get(
                f"/api/consultations/{visit.id}/visit-note", headers=person.headers
            )
        ).json()
        assert note["body_markdown"] == "Second text"
        assert note["diagnosis"] == "Flu"
        assert note["amended"] is True
        assert note["version"] == 2
        assert note["updated_at"] > note["written_at"]
        if history is None:
            assert note["history"] is None
        else:
            [earlier] = note["history"]
            assert earlier["body_markdown"] == "First text"
            assert earlier["diagnosis"] == NOTE["diagnosis"]
            assert earlier["author_id"] == str(doctor.id)
            assert earlier["created_at"] == note["written_at"]

    rows = list(await session.scalars(select(VisitNoteVersion).order_by(VisitNoteVersion.version)))
    assert [(r.version, r.body_markdown) for r in rows] == [(1, "First text"), (2, "Second text")]


async def test_the_same_note_sent_again_adds_no_version(
    clinic: RecordsClinic, session: AsyncSession
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    await clinic.note(doctor, visit.id)
    again = await clinic.note(doctor, visit.id)
    assert again.json()["version"] == 1
    assert len(list(await session.scalars(select(VisitNoteVersion)))) == 1


async def test_a_stored_version_cannot_be_changed_or_deleted(
    clinic: RecordsClinic, runtime: Runtime
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    await clinic.note(doctor, visit.id)
    with pytest.raises(ImmutableRecord):
        await tamper(runtime, VisitNoteVersion, body_markdown="rewritten history")
    with pytest.raises(ImmutableRecord):
        await tamper(runtime, VisitNoteVersion, delete=True)


@pytest.mark.parametrize("status", [S.pending, S.active, S.declined])
async def test_notes_wait_until_the_consultation_has_ended(
    clinic: RecordsClinic, status: ConsultationStatus
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, status)
    refused = await clinic.note(doctor, consultation.id)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "consultation_not_open"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("body_markdown", "x" * 20001),
        ("body_markdown", "bad \x00 byte"),
        ("diagnosis", "y" * 1001),
        ("follow_up_on", "next week"),
    ],
)
async def test_bad_notes_are_refused(clinic: RecordsClinic, field: str, value: str) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    refused = await clinic.note(doctor, visit.id, **{field: value})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "validation_error"


async def test_scripts_and_javascript_links_are_inert(clinic: RecordsClinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    body = (
        "<script>alert('x')</script>\n\n[click](javascript:alert(1)) "
        '<img src=x onerror="alert(1)"> [site](https://example.org)'
    )
    await clinic.note(doctor, visit.id, body_markdown=body)
    html = (
        await clinic.client.get(
            f"/api/consultations/{visit.id}/visit-note", headers=patient.headers
        )
    ).json()["body_html"]
    assert "<script" not in html
    assert "<img" not in html
    assert 'href="javascript' not in html
    assert (
        '<a href="https://example.org" target="_blank" rel="noopener noreferrer nofollow">site</a>'
        in html
    )


async def test_writes_and_staff_reads_are_audited(
    clinic: RecordsClinic, session: AsyncSession
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    admin = await clinic.staff(Role.admin)
    visit = await clinic.visit(patient, doctor)
    await clinic.note(doctor, visit.id)
    for person in (patient, doctor, admin):
        await clinic.client.get(f"/api/consultations/{visit.id}/visit-note", headers=person.headers)
    rows = list(
        await session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("records.%")).order_by(AuditEntry.seq)
        )
    )
    assert [(r.action, r.actor_id) for r in rows] == [
        ("records.visit_note_written", doctor.id),
        ("records.visit_note_read", doctor.id),
        ("records.visit_note_read", admin.id),
    ]
    assert rows[0].details == {"version": 1, "length": len(NOTE["body_markdown"])}


async def test_audit_rows_store_the_callers_address(
    clinic: RecordsClinic, session: AsyncSession
) -> None:
    """The request boundary binds the caller's address (the test client's is 203.0.113.7)
    to the unit of work, so every row a write or a staff read leaves carries it."""
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    assert (await clinic.note(doctor, visit.id)).status_code == 200
    assert (await clinic.prescribe(doctor, visit.id)).status_code == 201
    read = await clinic.client.get(
        f"/api/consultations/{visit.id}/visit-note", headers=doctor.headers
    )
    assert read.status_code == 200
    history = await clinic.client.get(f"/api/patients/{patient.id}/history", headers=doctor.headers)
    assert history.status_code == 200
    rows = list(
        await session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("records.%")).order_by(AuditEntry.seq)
        )
    )
    assert [(r.action, r.ip) for r in rows] == [
        ("records.visit_note_written", "203.0.113.7"),
        ("records.prescription_issued", "203.0.113.7"),
        ("records.visit_note_read", "203.0.113.7"),
        ("records.history_read", "203.0.113.7"),
    ]


async def test_concurrent_amendments_take_consecutive_versions(
    clinic: RecordsClinic, session: AsyncSession
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    answers = await asyncio.gather(
        *[clinic.note(doctor, visit.id, body_markdown=f"Version text {n}") for n in range(8)]
    )
    assert sorted(a.status_code for a in answers) == [200] * 8
    rows = list(await session.scalars(select(VisitNoteVersion).order_by(VisitNoteVersion.version)))
    assert [r.version for r in rows] == list(range(1, 9))
    assert {r.body_markdown for r in rows} == {f"Version text {n}" for n in range(8)}
