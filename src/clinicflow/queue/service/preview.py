"""How today's waiting patients would be ordered under proposed rules, before they are saved.

A read: nothing is written and nothing is announced. The admin's settings page asks it as
the weights are edited, so they see who would move before anyone's place does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import PatientType
from clinicflow.queue import access, priority
from clinicflow.queue.models import QueueEntry
from clinicflow.queue.schemas import EntryStatus, Severity
from clinicflow.queue.service import other_domains
from clinicflow.queue.service.days import get_queue
from clinicflow.queue.service.rules import current_rules


@dataclass(frozen=True)
class PreviewPlace:
    """One waiting patient: their place now and under the proposed rules."""

    entry_id: uuid.UUID
    token: int
    patient_name: str
    severity: Severity
    patient_type: PatientType
    position_now: int
    position_proposed: int

    @property
    def moved(self) -> int:
        """Places gained (positive) or lost (negative) under the proposal."""
        return self.position_now - self.position_proposed


@dataclass(frozen=True)
class DoctorPreview:
    doctor_id: uuid.UUID
    doctor_name: str
    places: list[PreviewPlace]  # in the proposed order


async def preview_order(
    *, session: AsyncSession, actor: Actor, rules: priority.Rules
) -> list[DoctorPreview]:
    """Each doctor's waiting patients of their today, in the order `rules` would give,
    beside their place under the rules in force. Doctors with nobody waiting are left out."""
    access.require_rules_reader(actor)
    _row, in_force = await current_rules(session)
    now = clock.now()
    answer: list[DoctorPreview] = []
    for doctor in await identity.search_doctors(session):
        queue = await get_queue(
            session, doctor.id, await other_domains.doctor_today(session, doctor.id)
        )
        if queue is None:
            continue
        waiting = await session.scalars(
            select(QueueEntry).where(
                QueueEntry.queue_id == queue.id, QueueEntry.status == EntryStatus.waiting
            )
        )
        patients: dict[uuid.UUID, uuid.UUID] = {}
        candidates = []
        for entry in waiting:
            candidates.append(
                priority.Candidate(
                    id=entry.id,
                    token=entry.token,
                    severity=entry.severity,
                    patient_type=entry.patient_type,
                    joined_at=entry.joined_at,
                    appointment_starts_at=entry.appointment_starts_at,
                    pinned_before_id=entry.pinned_before_id,
                    pinned_at=entry.pinned_at,
                )
            )
            patients[entry.id] = entry.patient_id
        if not candidates:
            continue
        before = {c.id: n for n, c in enumerate(priority.order(candidates, in_force, now), 1)}
        names = await identity.names(session, patients.values())
        answer.append(
            DoctorPreview(
                doctor_id=doctor.id,
                doctor_name=doctor.name,
                places=[
                    PreviewPlace(
                        entry_id=c.id,
                        token=c.token,
                        patient_name=names.get(patients[c.id], ""),
                        severity=c.severity,
                        patient_type=c.patient_type,
                        position_now=before[c.id],
                        position_proposed=n,
                    )
                    for n, c in enumerate(priority.order(candidates, rules, now), 1)
                ],
            )
        )
    return answer
