"""A patient's record as a FHIR R4 `collection` Bundle, for another clinic's system.

Resources: Patient, Practitioner (each doctor), Appointment, Encounter (each consultation:
class `AMB` for a visit at the clinic, `VR` for a remote one), Condition,
Communication (each chat message), MedicationRequest (each medicine of each prescription;
a corrected prescription's are `cancelled`). Every resource is named by `urn:uuid:` and
referenced the same way, so the bundle stands on its own. Only elements that exist in R4
(4.0.1) are used. The visit note has no R4 home on an Encounter, so it travels as the
Encounter's `text` narrative (escaped), and its diagnosis as a Condition the Encounter names.
"""

from __future__ import annotations

import html
import json
import uuid
from datetime import timedelta
from typing import Any

from clinicflow.consultations.schemas import ChatMessage
from clinicflow.identity.schemas import UserOut
from clinicflow.records import schemas
from clinicflow.records.service.exports import Record

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ENCOUNTER_CLASS = {
    "chat": {"system": ACT_CODE, "code": "VR", "display": "virtual"},
    "audio": {"system": ACT_CODE, "code": "VR", "display": "virtual"},
    "video": {"system": ACT_CODE, "code": "VR", "display": "virtual"},
    "in_person": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
}
ENCOUNTER_STATUS = {
    "pending": "planned",
    "active": "in-progress",
    "ended": "finished",
    "declined": "cancelled",
    "cancelled": "cancelled",
}
APPOINTMENT_STATUS = {
    "booked": "booked",
    "checked_in": "checked-in",
    "in_consultation": "arrived",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "no_show": "noshow",
}


def ref(ident: uuid.UUID) -> dict[str, str]:
    return {"reference": f"urn:uuid:{ident}"}


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def _person(resource_type: str, user: UserOut) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": resource_type,
        "id": str(user.id),
        "active": user.is_active,
        "name": [{"text": user.name}],
    }
    telecom = [
        {"system": system, "value": value}
        for system, value in (("phone", user.phone), ("email", user.email))
        if value
    ]
    if telecom:
        resource["telecom"] = telecom
    if user.patient is not None and user.patient.date_of_birth is not None:
        resource["birthDate"] = user.patient.date_of_birth.isoformat()
    return resource


def _appointment(item: schemas.HistoryItem, patient_id: uuid.UUID) -> dict[str, Any]:
    end = item.at + timedelta(seconds=item.duration_seconds or 0)
    return {
        "resourceType": "Appointment",
        "id": str(item.id),
        "status": APPOINTMENT_STATUS.get(item.status, "booked"),
        "appointmentType": {"text": item.mode},
        "start": item.at.isoformat(),
        "end": end.isoformat(),
        "participant": [
            {"actor": ref(patient_id), "status": "accepted"},
            {"actor": ref(item.doctor_id), "status": "accepted"},
        ],
    }


def _narrative(note: schemas.VisitNoteOut) -> dict[str, str]:
    text = html.escape(note.body_markdown).replace("\n", "<br/>")
    return {
        "status": "additional",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{text}</p></div>',
    }


def _encounter(item: schemas.HistoryItem, patient_id: uuid.UUID) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(item.id),
        "status": ENCOUNTER_STATUS.get(item.status, "unknown"),
        "class": ENCOUNTER_CLASS.get(item.mode, ENCOUNTER_CLASS["chat"]),
        "subject": ref(patient_id),
        "participant": [{"individual": ref(item.doctor_id)}],
        "period": {"start": item.at.isoformat()},
    }
    if item.duration_seconds is not None:
        resource["length"] = {
            "value": item.duration_seconds,
            "unit": "s",
            "system": "http://unitsofmeasure.org",
            "code": "s",
        }
    if item.appointment_id is not None:
        resource["appointment"] = [ref(item.appointment_id)]
    if item.problem:
        resource["reasonCode"] = [{"text": item.problem}]
    if item.note is not None:
        resource["text"] = _narrative(item.note)
        if item.note.diagnosis:
            resource["diagnosis"] = [{"condition": ref(_condition_id(item))}]
    return resource


def _condition_id(item: schemas.HistoryItem) -> uuid.UUID:
    return uuid.uuid5(item.id, "diagnosis")


def _condition(item: schemas.HistoryItem, patient_id: uuid.UUID) -> dict[str, Any]:
    """The visit's diagnosis, as the Condition its Encounter points to."""
    assert item.note is not None
    return {
        "resourceType": "Condition",
        "id": str(_condition_id(item)),
        "code": {"text": item.note.diagnosis},
        "subject": ref(patient_id),
        "encounter": ref(item.id),
        "recordedDate": item.note.updated_at.isoformat(),
        "recorder": ref(item.doctor_id),
    }


def _medication_requests(
    prescription: schemas.PrescriptionOut, patient_id: uuid.UUID
) -> list[dict[str, Any]]:
    status = "cancelled" if prescription.superseded_by_id else "active"
    advice = [
        text
        for text in (
            prescription.lifestyle_advice,
            prescription.dietary_instructions,
            prescription.warning_signs,
            prescription.emergency_instructions,
        )
        if text
    ]
    resources = []
    for index, medication in enumerate(prescription.medications):
        dosage: dict[str, Any] = {
            "text": ", ".join(
                part
                for part in (medication.dosage, medication.frequency, medication.duration)
                if part
            )
            or medication.name
        }
        if medication.route:
            dosage["route"] = {"text": medication.route}
        if medication.instructions:
            dosage["patientInstruction"] = medication.instructions
        resource: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "id": str(uuid.uuid5(prescription.id, str(index))),
            "identifier": [{"system": prescription.verify_url, "value": str(index + 1)}],
            "groupIdentifier": {"value": prescription.verification_code},
            "status": status,
            "intent": "order",
            "medicationCodeableConcept": {
                "text": " ".join(p for p in (medication.name, medication.strength) if p)
            },
            "subject": ref(patient_id),
            "encounter": ref(prescription.consultation_id),
            "authoredOn": prescription.issued_at.isoformat(),
            "requester": ref(prescription.doctor_id),
            "dosageInstruction": [dosage],
        }
        if medication.quantity:
            resource["dispenseRequest"] = {"quantity": {"unit": medication.quantity}}
        if advice:
            resource["note"] = [{"text": text} for text in advice]
        resources.append(resource)
    return resources


def _communication(record: Record, message: ChatMessage, sender_id: uuid.UUID) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "id": str(message.id),
        "status": "completed",
        "subject": ref(record.patient.id),
        "encounter": ref(message.consultation_id),
        "sent": message.created_at.isoformat(),
        "sender": ref(sender_id),
        "payload": [{"contentString": message.body}],
    }


def bundle(record: Record) -> dict[str, Any]:
    patient_id = record.patient.id
    resources: list[dict[str, Any]] = [_person("Patient", record.patient)]
    resources += [_person("Practitioner", doctor) for doctor in record.doctors]
    for item in reversed(record.items):
        if item.kind == "appointment":
            resources.append(_appointment(item, patient_id))
            continue
        resources.append(_encounter(item, patient_id))
        if item.note is not None and item.note.diagnosis:
            resources.append(_condition(item, patient_id))
        for prescription in item.prescriptions:
            resources += _medication_requests(prescription, patient_id)
    resources += [
        _communication(record, message, message.sender_id)
        for message in record.messages
        if message.sender_id is not None
    ]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": record.generated_at.isoformat(),
        "entry": [_entry(resource) for resource in resources],
    }


def bundle_json(record: Record) -> bytes:
    return json.dumps(bundle(record), ensure_ascii=False).encode()
