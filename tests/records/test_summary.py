"""The summary always in view: the chart's header (allergies red when one is severe, active
conditions, current medications, last visit), and the same allergy line on the doctor's
queue card for the patient with them and beside the chat, handed in by records."""

from __future__ import annotations

import httpx
import pytest

from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.queue.clinic import AFTERNOON, QueueClinic
from tests.records.clinic import RecordsClinic, add_to_list

pytestmark = pytest.mark.usefixtures("app")


async def test_the_chart_opens_with_the_summary(clinic: RecordsClinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    await clinic.visit(patient, doctor)
    await add_to_list(clinic, doctor, patient.id, "allergies", severity="moderate")
    chart = (await clinic.client.get(f"/patients/{patient.id}/chart", headers=doctor.headers)).text
    assert 'data-testid="chart-summary"' in chart
    assert 'data-testid="summary-person"' in chart  # age and sex (not recorded yet)
    assert "Not recorded" in chart
    assert "Penicillin (Moderate)" in chart
    assert "allergy-severe" not in chart
    await add_to_list(clinic, doctor, patient.id, "allergies", substance="Latex")
    await add_to_list(clinic, doctor, patient.id, "conditions")
    await add_to_list(clinic, doctor, patient.id, "medications")
    resolved = await add_to_list(clinic, doctor, patient.id, "conditions", name="Malaria")
    await clinic.client.patch(
        f"/api/conditions/{resolved.json()['id']}",
        json={"status": "resolved"},
        headers=doctor.headers,
    )
    chart = (await clinic.client.get(f"/patients/{patient.id}/chart", headers=doctor.headers)).text
    header = chart.split('data-testid="chart-summary"', 1)[1].split("</header>", 1)[0]
    assert "allergy-severe" in header
    assert "Latex (Severe)" in header
    assert "Asthma (J45.9)" in header
    assert "Malaria" not in header
    assert "Salbutamol 100 mcg" in header
    assert "None yet" not in header  # the ended visit is the last one
    receptionist = await clinic.staff(Role.receptionist)
    desk = await clinic.client.get(f"/patients/{patient.id}/chart", headers=receptionist.headers)
    assert desk.status_code == 200
    assert "chart-summary" not in desk.text
    assert "Latex" not in desk.text


async def test_the_doctor_sees_the_allergy_line_beside_the_chat(clinic: RecordsClinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor)
    await add_to_list(clinic, doctor, patient.id, "allergies")
    page = await clinic.client.get(f"/consultations/{consultation.id}", headers=doctor.headers)
    assert 'class="allergy-line allergy-severe"' in page.text
    assert "Penicillin (Severe)" in page.text
    own = await clinic.client.get(f"/consultations/{consultation.id}", headers=patient.headers)
    assert own.status_code == 200
    assert "allergy-line" not in own.text


async def test_the_queue_card_shows_the_allergy_line_of_the_patient_with_the_doctor(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> None:
    queue = QueueClinic(client, accounts, runtime)
    doctor, doctor_headers = await queue.doctor()
    desk = await queue.front_desk()
    patient, _headers, _entry = await queue.booked_and_checked_in(desk, doctor, AFTERNOON[0])
    recorded = await client.post(
        f"/api/patients/{patient.id}/allergies",
        json={"substance": "Sulfa", "severity": "mild"},
        headers=doctor_headers,
    )
    assert recorded.status_code == 201, recorded.text
    before = await client.get("/doctor/queue", headers=doctor_headers)
    assert "allergy-line" not in before.text  # nobody is with the doctor yet
    assert (await queue.act(doctor_headers, f"{doctor.id}/call-next")).status_code == 200
    card = await client.get("/doctor/queue", headers=doctor_headers)
    assert 'data-testid="allergy-line"' in card.text
    assert "Sulfa (Mild)" in card.text
    fragment = await client.get("/doctor/queue/fragment", headers=doctor_headers)
    assert "Sulfa (Mild)" in fragment.text
