"""Who may read and write a patient's medical record: decided here and nowhere else.

| who | the record (history, notes, prescriptions, PDFs) | write notes, issue prescriptions | export |
| --- | --- | --- | --- |
| the patient | their own | never (403) | their own |
| a doctor | of a patient they have a consultation or appointment with, **audited** | their own ended consultations | 403 |
| an admin | every patient's, **audited** | never (403) | 403 |
| a receptionist | appointments only, no clinical content | 404 | 404 |
| anyone else (other doctors and patients, anonymous) | 404, as for a record that does not exist | 404 | 404 |
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import access as consultation_access
from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationStatus, ConsultationView
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.scheduling import service as scheduling

AUDITED_READERS = frozenset({Role.doctor, Role.admin})


class View(StrEnum):
    """How much of a record the reader sees."""

    full = "full"
    appointments = "appointments"


async def _is_patient(session: AsyncSession, patient_id: uuid.UUID) -> bool:
    found = await identity.users(session, [patient_id])
    return bool(found) and found[0].role is Role.patient


async def record_view(session: AsyncSession, actor: Actor, patient_id: uuid.UUID) -> View:
    """What the actor may see of this patient's record; the same not-found for a patient who
    does not exist and one the actor may not see."""
    if actor.role is Role.patient:
        if actor.id == patient_id:
            return View.full
        raise not_found()
    if actor.role is Role.doctor:
        if await consultations.treats(
            session, doctor_id=actor.id, patient_id=patient_id
        ) or await scheduling.has_appointment(session, doctor_id=actor.id, patient_id=patient_id):
            return View.full
        raise not_found()
    if not await _is_patient(session, patient_id):
        raise not_found()
    return View.full if actor.role is Role.admin else View.appointments


async def require_clinical_reader(
    session: AsyncSession, actor: Actor, patient_id: uuid.UUID
) -> None:
    """Notes and prescriptions: readers of the full record only; a receptionist, who sees
    appointments alone, is told the same not-found as an outsider."""
    if await record_view(session, actor, patient_id) is not View.full:
        raise not_found()


def reads_are_audited(actor: Actor) -> bool:
    """Staff reads of a record leave an audit row; a patient reading their own does not."""
    return actor.role in AUDITED_READERS


def sees_amendments(actor: Actor) -> bool:
    """Earlier versions of a note are for staff; the patient sees the latest, marked amended."""
    return actor.role is not Role.patient


def require_searcher(view: View) -> None:
    if view is not View.full:
        raise AppError(ErrorCode.forbidden, _("Only clinical staff search visit notes."))


async def consultation_to_write(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> ConsultationView:
    """The consultation, locked, if the actor is its doctor and it has ended: notes and
    prescriptions are written once the visit is over, so the patient has them the moment
    it is finished. Outsiders get the consultation's own not-found."""
    consultation = await consultations.consultation_for(
        session=session, actor=actor, consultation_id=consultation_id, for_update=True
    )
    consultation_access.require_doctor(actor, consultation)
    if consultation.status is not ConsultationStatus.ended:
        raise consultation_access.not_open(consultation)
    return consultation


def require_exporter(actor: Actor, patient_id: uuid.UUID, view: View) -> None:
    """The whole record leaves the clinic only at its patient's request."""
    if actor.id != patient_id:
        if view is View.full:
            raise AppError(ErrorCode.forbidden, _("Only the patient downloads their record."))
        raise not_found()


def require_own_record_page(actor: Actor) -> None:
    """ "My records" is a patient's page; staff open a patient's chart instead."""
    if actor.role is not Role.patient:
        raise AppError(ErrorCode.forbidden, _("This page is for patients."))
