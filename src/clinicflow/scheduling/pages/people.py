"""Who is on a booking page and the people it names: the viewer, doctors and patients as
plain cards (still readable after a refusal's rollback)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.deps import Viewer
from clinicflow.identity import service as identity

PATIENT_RESULTS = 20


@dataclass(frozen=True)
class DoctorCard:
    id: uuid.UUID
    name: str
    specialty: str
    bio: str


@dataclass(frozen=True)
class PatientCard:
    id: uuid.UUID
    name: str
    phone: str


def viewer(request: Request) -> Viewer:
    """The signed-in user as plain values: still readable after a refusal's rollback."""
    found: Viewer = request.state.viewer
    return found


async def doctor(session: AsyncSession, doctor_id: uuid.UUID) -> DoctorCard:
    found = await identity.get_doctor(session, doctor_id)
    assert found.doctor is not None  # get_doctor guarantees the profile
    return DoctorCard(found.id, found.name, found.doctor.specialty, found.doctor.bio)


async def doctors(session: AsyncSession, query: str | None) -> list[DoctorCard]:
    found = await identity.search_doctors(session, query)
    return [
        DoctorCard(d.id, d.name, d.doctor.specialty, d.doctor.bio)
        for d in found
        if d.doctor is not None
    ]


async def patient(session: AsyncSession, patient_id: uuid.UUID) -> PatientCard:
    found = await identity.get_patient(session, patient_id)
    return PatientCard(found.id, found.name, found.phone or "")


async def find_patients(session: AsyncSession, actor: Actor, query: str) -> list[PatientCard]:
    found = await identity.find_patients(
        session=session, actor=actor, query=query, limit=PATIENT_RESULTS
    )
    return [PatientCard(p.id, p.name, p.phone or "") for p in found]
