"""The visit: calling a patient at the clinic opens an `in_person` consultation between the
doctor and the patient; its note and prescription are written during it; finishing ends it
(and may call the next patient); a skip or an undone call cancels it. The visit is then in
the patient's history, their record PDF and their FHIR bundle like any consultation.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pypdf import PdfReader
from sqlalchemy import select

from clinicflow.consultations.models import Consultation
from clinicflow.identity.models import User
from clinicflow.runtime import Runtime
from tests.factories import bearer, latest_code
from tests.queue.clinic import AFTERNOON, QueueClinic
from tests.records.clinic import NOTE, PRESCRIPTION

PHONE = "+254740000001"


async def _consultation(runtime: Runtime, consultation_id: str) -> Consultation:
    async with runtime.transaction(write=False) as session:
        found = await session.scalar(
            select(Consultation).where(Consultation.id == uuid.UUID(consultation_id))
        )
        assert found is not None
        return found


async def _phone_sign_in(clinic: QueueClinic, phone: str) -> dict[str, str]:
    await clinic.client.post("/api/auth/otp/request", json={"phone": phone})
    verified = await clinic.client.post(
        "/api/auth/otp/verify",
        json={"phone": phone, "code": latest_code(clinic.runtime, phone)},
    )
    assert verified.status_code == 200, verified.text
    return bearer(verified.json())


async def _called_walk_in(
    clinic: QueueClinic, phone: str = PHONE
) -> tuple[User, dict[str, str], dict[str, str], dict[str, Any]]:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    assert (await clinic.walk_in(desk, doctor, phone)).status_code == 201
    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert called.status_code == 200, called.text
    return doctor, doctor_headers, desk, called.json()


async def test_a_walk_in_visit_is_noted_prescribed_finished_and_in_the_record(
    clinic: QueueClinic,
) -> None:
    doctor, doctor_headers, _desk, called = await _called_walk_in(clinic)
    visit_id = called["consultation_id"]
    assert visit_id is not None
    queue = await clinic.queue(doctor, doctor_headers)
    assert [e["consultation_id"] for e in queue["entries"]] == [visit_id]
    visit = await _consultation(clinic.runtime, visit_id)
    assert (visit.type.value, visit.status.value) == ("in_person", "active")
    assert (str(visit.doctor_id), str(visit.patient_id)) == (str(doctor.id), called["patient_id"])

    # The doctor writes the note and prescribes before pressing Finish.
    note = await clinic.client.put(
        f"/api/consultations/{visit_id}/visit-note", json=NOTE, headers=doctor_headers
    )
    assert note.status_code == 200, note.text
    prescribed = await clinic.client.post(
        f"/api/consultations/{visit_id}/prescriptions", json=PRESCRIPTION, headers=doctor_headers
    )
    assert prescribed.status_code == 201, prescribed.text
    finished = await clinic.act(doctor_headers, f"entries/{called['id']}/finish")
    assert finished.status_code == 200, finished.text
    assert finished.json()["consultation_id"] == visit_id
    assert (await _consultation(clinic.runtime, visit_id)).status.value == "ended"

    patient_id = called["patient_id"]
    history = await clinic.client.get(f"/api/patients/{patient_id}/history", headers=doctor_headers)
    assert history.status_code == 200
    [item] = [i for i in history.json()["items"] if i["kind"] == "consultation"]
    assert (item["id"], item["mode"], item["status"]) == (visit_id, "in_person", "ended")
    assert item["note"]["diagnosis"] == NOTE["diagnosis"]
    assert [m["name"] for m in item["prescriptions"][0]["medications"]] == [
        "Amoxicillin",
        "Paracetamol",
    ]

    patient = await _phone_sign_in(clinic, PHONE)
    mine = await clinic.client.get(f"/api/patients/{patient_id}/history", headers=patient)
    assert [i["mode"] for i in mine.json()["items"]] == ["in_person"]
    pdf = await clinic.client.get(f"/api/patients/{patient_id}/export.pdf?lang=en", headers=patient)
    assert pdf.status_code == 200
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in (NOTE["diagnosis"], "Amoxicillin"):
        assert expected in text, expected
    # The mode line is in the reader's words, never the raw value.
    assert "In person" in text
    assert "in_person" not in text
    fhir = await clinic.client.get(f"/api/patients/{patient_id}/export.fhir.json", headers=patient)
    bundle = fhir.json()
    Bundle.model_validate(bundle)
    [encounter] = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter"
    ]
    assert encounter["id"] == visit_id
    assert encounter["class"]["code"] == "AMB"
    assert encounter["status"] == "finished"


async def test_an_in_person_visit_takes_no_chat_from_either_side(clinic: QueueClinic) -> None:
    """The two are in the same room: the visit's record is its note, and its page offers
    no message box to anyone."""
    _doctor, doctor_headers, _desk, called = await _called_walk_in(clinic)
    visit_id = called["consultation_id"]
    patient = await _phone_sign_in(clinic, PHONE)
    for headers in (doctor_headers, patient):
        sent = await clinic.client.post(
            f"/api/consultations/{visit_id}/messages",
            json={"body": "hello", "client_id": str(uuid.uuid4())},
            headers=headers,
        )
        assert sent.status_code == 409, sent.text
        assert sent.json()["error"]["code"] == "consultation_not_open"
        assert sent.json()["error"]["details"]["type"] == "in_person"
    messages = await clinic.client.get(
        f"/api/consultations/{visit_id}/messages", headers=doctor_headers
    )
    assert messages.json()["items"] == []


async def test_the_chart_of_a_walk_in_is_their_doctors_alone(clinic: QueueClinic) -> None:
    _doctor, doctor_headers, _desk, called = await _called_walk_in(clinic)
    _stranger, stranger_headers = await clinic.doctor()
    path = f"/patients/{called['patient_id']}/chart"
    html = {"Accept": "text/html"}
    mine = await clinic.client.get(path, headers={**doctor_headers, **html})
    assert mine.status_code == 200
    assert f'id="visit-{called["consultation_id"]}"' in mine.text
    assert 'data-testid="note-form"' in mine.text  # writable while the visit is under way
    other = await clinic.client.get(path, headers={**stranger_headers, **html})
    assert other.status_code == 404


async def test_a_walk_in_waiting_opens_the_chart_before_any_visit(clinic: QueueClinic) -> None:
    """In the doctor's queue today is a care relation of its own (the walk-in was never
    called, so there is no consultation yet)."""
    doctor, doctor_headers = await clinic.doctor()
    _stranger, stranger_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    entry = (await clinic.walk_in(desk, doctor, PHONE)).json()
    assert entry["consultation_id"] is None
    path = f"/api/patients/{entry['patient_id']}/history"
    assert (await clinic.client.get(path, headers=doctor_headers)).status_code == 200
    assert (await clinic.client.get(path, headers=stranger_headers)).status_code == 404


async def test_an_in_person_appointment_called_opens_its_visit(clinic: QueueClinic) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    _patient, _headers, entry = await clinic.booked_and_checked_in(desk, doctor, AFTERNOON[0])
    called = (await clinic.act(doctor_headers, f"{doctor.id}/call-next")).json()
    visit = await _consultation(clinic.runtime, called["consultation_id"])
    assert visit.type.value == "in_person"
    assert str(visit.appointment_id) == entry["appointment_id"]
    assert visit.problem == "Cough"  # the appointment's reason


async def test_finish_and_call_next_ends_one_visit_and_opens_the_next(
    clinic: QueueClinic,
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    for n in range(2):
        assert (await clinic.walk_in(desk, doctor, f"+25474000010{n}")).status_code == 201
    first = (await clinic.act(doctor_headers, f"{doctor.id}/call-next")).json()
    both = await clinic.act(doctor_headers, f"entries/{first['id']}/finish-and-call-next")
    assert both.status_code == 200, both.text
    finished, called = both.json()["finished"], both.json()["called"]
    assert (finished["token"], finished["status"]) == (1, "completed")
    assert (called["token"], called["status"]) == (2, "in_consultation")
    assert called["consultation_id"] not in (None, first["consultation_id"])
    first_visit = await _consultation(clinic.runtime, first["consultation_id"])
    second_visit = await _consultation(clinic.runtime, called["consultation_id"])
    assert (first_visit.status.value, second_visit.status.value) == ("ended", "active")
    queue = await clinic.queue(doctor, desk)
    assert queue["serving_token"] == 2

    # Nobody left: the finish stands, nobody is called.
    last = await clinic.act(doctor_headers, f"entries/{called['id']}/finish-and-call-next")
    assert last.status_code == 200, last.text
    assert last.json()["called"] is None
    assert last.json()["finished"]["status"] == "completed"
    assert (await _consultation(clinic.runtime, called["consultation_id"])).status.value == "ended"


async def test_a_skip_or_an_undone_call_cancels_the_visit_and_a_recall_opens_a_new_one(
    clinic: QueueClinic,
) -> None:
    doctor, doctor_headers, _desk, called = await _called_walk_in(clinic)
    first_visit = called["consultation_id"]
    skipped = await clinic.act(doctor_headers, f"entries/{called['id']}/no-show")
    assert skipped.status_code == 200
    assert (await _consultation(clinic.runtime, first_visit)).status.value == "cancelled"
    # A cancelled visit takes no note.
    refused = await clinic.client.put(
        f"/api/consultations/{first_visit}/visit-note", json=NOTE, headers=doctor_headers
    )
    assert refused.status_code == 409

    recalled = (await clinic.act(doctor_headers, f"entries/{called['id']}/recall")).json()
    second_visit = recalled["consultation_id"]
    assert second_visit != first_visit
    assert (await _consultation(clinic.runtime, second_visit)).status.value == "active"

    undone = await clinic.act(doctor_headers, f"{doctor.id}/undo")
    assert undone.status_code == 200, undone.text
    assert undone.json()["status"] == "skipped"
    assert (await _consultation(clinic.runtime, second_visit)).status.value == "cancelled"

    # The history shows both visits that did not take place as cancelled.
    history = await clinic.client.get(
        f"/api/patients/{called['patient_id']}/history", headers=doctor_headers
    )
    assert sorted(i["status"] for i in history.json()["items"]) == ["cancelled", "cancelled"]


async def test_a_new_token_after_a_missed_turn_opens_a_new_visit_when_called(
    clinic: QueueClinic, frozen_clock: Any
) -> None:
    doctor, doctor_headers, desk, called = await _called_walk_in(clinic)
    await clinic.act(doctor_headers, f"entries/{called['id']}/no-show")
    frozen_clock.advance(minutes=11)
    new = await clinic.act(desk, f"entries/{called['id']}/requeue")
    assert new.status_code == 201, new.text
    assert new.json()["consultation_id"] is None
    again = (await clinic.act(doctor_headers, f"{doctor.id}/call-next")).json()
    assert again["consultation_id"] not in (None, called["consultation_id"])
