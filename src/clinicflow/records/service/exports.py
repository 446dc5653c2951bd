"""Exports: the patient's whole record, for the PDF and the FHIR bundle. Only the patient
takes it out of the clinic, and every export is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import schemas as consultation_schemas
from clinicflow.consultations import service as consultations
from clinicflow.core import audit, clock
from clinicflow.core.audit import Actor
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import UserOut
from clinicflow.records import access, schemas
from clinicflow.records.service.history import Entry, history_items
from clinicflow.scheduling import service as scheduling

# Everything of one patient, for an export: far beyond any real record, but bounded.
EXPORT_LIMIT = 10_000


@dataclass(frozen=True)
class Record:
    """Everything of one patient's record, for the PDF and the FHIR bundle. The people are
    identity's answer shape (`UserOut`), never its table."""

    patient: UserOut
    doctors: list[UserOut]
    items: list[schemas.HistoryItem]
    messages: list[consultation_schemas.ChatMessage]
    generated_at: datetime


async def export(
    *, session: AsyncSession, actor: Actor, patient_id: uuid.UUID, public_url: str, form: str
) -> Record:
    """The whole record, for its patient to take elsewhere; every export is audited."""
    view = await access.record_view(session, actor, patient_id)
    access.require_exporter(actor, patient_id, view)
    entries = [
        Entry(c.created_at, c.id, consultation=c)
        for c in await consultations.patient_consultations(
            session, patient_id=patient_id, limit=EXPORT_LIMIT
        )
    ] + [
        Entry(a.starts_at, a.id, appointment=a)
        for a in await scheduling.appointments_of_patient(
            session=session, patient_id=patient_id, limit=EXPORT_LIMIT
        )
    ]
    entries.sort(key=lambda e: (e.at, e.id), reverse=True)
    items = await history_items(session, entries, public_url=public_url, with_history=False)
    people = [
        UserOut.model_validate(user)
        for user in await identity.users(session, {patient_id} | {item.doctor_id for item in items})
    ]
    await audit.record(
        session,
        action="records.exported",
        resource_type="patient",
        resource_id=patient_id,
        actor=actor,
        details={"format": form, "items": len(items)},
    )
    return Record(
        patient=next(p for p in people if p.id == patient_id),
        doctors=sorted((p for p in people if p.id != patient_id), key=lambda p: p.name),
        items=items,
        messages=await consultations.patient_messages(session, patient_id=patient_id, reader=actor),
        generated_at=clock.now(),
    )
