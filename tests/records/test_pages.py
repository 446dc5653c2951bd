"""The record pages over HTTP, signed in as a browser would be (cookie and CSRF): the
patient's "My records", the doctor's chart with the note and prescription forms, and who
may open them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.factories import csrf_from, sign_in_page_patient, sign_in_page_staff
from tests.records.clinic import RecordsClinic

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own: its cookies are not the API client's."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_my_records_shows_visits_notes_prescriptions_and_downloads(
    clinic: RecordsClinic, browser: httpx.AsyncClient, runtime: Runtime, frozen_clock: FrozenClock
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    await clinic.note(doctor, visit.id, body_markdown="First")
    await clinic.note(doctor, visit.id, body_markdown="Rest **well** <script>alert(1)</script>")
    issued = (await clinic.prescribe(doctor, visit.id)).json()
    frozen_clock.advance(seconds=31)  # a new code may be asked for after 30 seconds
    await sign_in_page_patient(browser, runtime, patient.user)

    page = await browser.get("/records")
    assert page.status_code == 200
    assert 'href="/records"' in page.text  # in the navigation
    assert f'data-id="{visit.id}"' in page.text
    assert "Rest <strong>well</strong> &lt;script&gt;" in page.text
    assert "<script>alert" not in page.text
    assert 'data-testid="amended"' in page.text
    assert issued["verification_code"] in page.text
    assert f'href="/api/prescriptions/{issued["id"]}.pdf?lang=sw"' in page.text
    assert f'href="/api/patients/{patient.id}/export.fhir.json"' in page.text
    assert 'data-testid="note-form"' not in page.text

    searched = await browser.get("/records", params={"q": "nothing like this"})
    assert 'data-testid="timeline-empty"' in searched.text
    download = await browser.get(f"/api/prescriptions/{issued['id']}.pdf")
    assert download.status_code == 200
    assert download.content.startswith(b"%PDF")


async def test_the_doctor_writes_notes_and_a_prescription_from_the_chart(
    clinic: RecordsClinic, browser: httpx.AsyncClient
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    await sign_in_page_staff(browser, doctor.user)

    chat = await browser.get(f"/consultations/{visit.id}")
    assert f'href="/patients/{patient.id}/chart#visit-{visit.id}"' in chat.text
    chart = await browser.get(f"/patients/{patient.id}/chart")
    assert chart.status_code == 200
    assert 'data-testid="note-form"' in chart.text
    token = csrf_from(chart.text)

    saved = await browser.post(
        f"/consultations/{visit.id}/visit-note",
        data={
            "body_markdown": "Viral *pharyngitis*",
            "diagnosis": "Pharyngitis",
            "csrf_token": token,
        },
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/patients/{patient.id}/chart#visit-{visit.id}"
    issued = await browser.post(
        f"/consultations/{visit.id}/prescriptions",
        data={
            "name_0": "Ibuprofen",
            "strength_0": "400 mg",
            "dosage_0": "1 tablet",
            "frequency_0": "twice a day",
            "warning_signs": "Black stools",
            "csrf_token": token,
        },
    )
    assert issued.status_code == 303
    chart = await browser.get(f"/patients/{patient.id}/chart")
    assert "Viral <em>pharyngitis</em>" in chart.text
    assert "Ibuprofen" in chart.text
    assert "Black stools" in chart.text

    empty = await browser.post(
        f"/consultations/{visit.id}/prescriptions", data={"name_0": "", "csrf_token": token}
    )
    assert empty.status_code == 422
    assert 'data-testid="form-error"' in empty.text
    no_token = await browser.post(
        f"/consultations/{visit.id}/visit-note", data={"body_markdown": "x"}
    )
    assert no_token.status_code == 403


async def test_the_chart_offers_no_forms_before_the_end_or_to_other_doctors(
    clinic: RecordsClinic, browser: httpx.AsyncClient
) -> None:
    patient, doctor, colleague = (
        await clinic.patient(),
        await clinic.doctor(),
        await clinic.doctor(),
    )
    await clinic.consultation(patient, doctor)  # pending: not yet
    await clinic.visit(patient, colleague)
    await sign_in_page_staff(browser, doctor.user)
    chart = await browser.get(f"/patients/{patient.id}/chart")
    assert chart.status_code == 200
    assert len(re.findall('data-testid="record-item"', chart.text)) == 2
    assert 'data-testid="note-form"' not in chart.text


@pytest.mark.parametrize("role", [Role.receptionist, Role.doctor])
async def test_outsiders_get_no_chart(
    clinic: RecordsClinic, browser: httpx.AsyncClient, role: Role
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    await clinic.visit(patient, doctor)
    outsider = await clinic.accounts.make(role)
    await sign_in_page_staff(browser, outsider)
    chart = await browser.get(f"/patients/{patient.id}/chart", headers={"Accept": "text/html"})
    if role is Role.receptionist:
        assert chart.status_code == 200  # appointments only
        assert 'data-testid="record-item"' not in chart.text
    else:
        assert chart.status_code == 404
    assert (await browser.get("/records")).status_code == 403


async def test_the_doctor_keeps_the_lists_from_the_chart(
    clinic: RecordsClinic, browser: httpx.AsyncClient
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    visit = await clinic.visit(patient, doctor)
    await sign_in_page_staff(browser, doctor.user)
    token = csrf_from((await browser.get(f"/patients/{patient.id}/chart")).text)
    added = await browser.post(
        f"/patients/{patient.id}/lists/allergy",
        data={
            "substance": "Penicillin",
            "reaction": "Hives",
            "severity": "severe",
            "csrf_token": token,
        },
    )
    assert added.status_code == 303
    assert added.headers["location"] == f"/patients/{patient.id}/chart#clinical-lists"
    bad = await browser.post(
        f"/patients/{patient.id}/lists/condition",
        data={"name": "Asthma", "icd10": "not a code", "csrf_token": token},
    )
    assert bad.status_code == 422
    assert 'data-testid="form-error"' in bad.text
    [line] = (
        await clinic.client.get(f"/api/patients/{patient.id}/allergies", headers=doctor.headers)
    ).json()
    refused = await browser.post(
        f"/consultations/{visit.id}/prescriptions",
        data={"name_0": "Amoxicillin", "csrf_token": token},
    )
    assert refused.status_code == 409
    assert "Penicillin" in refused.text
    overridden = await browser.post(
        f"/consultations/{visit.id}/prescriptions",
        data={"name_0": "Amoxicillin", "override_reason": "Desensitised", "csrf_token": token},
    )
    assert overridden.status_code == 303
    resolved = await browser.post(
        f"/lists/allergy/{line['id']}/resolved",
        data={"patient_id": str(patient.id), "csrf_token": token},
    )
    assert resolved.status_code == 303
    removed = await browser.post(
        f"/lists/allergy/{line['id']}/remove",
        data={"patient_id": "not-an-id", "csrf_token": token},
    )
    assert removed.status_code == 303
    assert removed.headers["location"] == f"/patients/{patient.id}/chart#clinical-lists"
    chart = (await browser.get(f"/patients/{patient.id}/chart")).text
    assert "No known allergies" in chart
    assert "Desensitised" in chart
