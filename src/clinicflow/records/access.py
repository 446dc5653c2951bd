"""Who may read and write a patient's medical record: decided here and nowhere else.

| who | the record (history, notes, prescriptions, PDFs, chart, search) | write notes, issue prescriptions | export |
| --- | --- | --- | --- |
| the patient | their own | never (403) | their own |
| a doctor | of a patient they have a **care relation** with, **audited** | their own visits: a remote one once it ended, an in-person one while it is under way or ended | 403 |
| an admin | every patient's, **audited** | never (403) | 403 |
| a receptionist | appointments only, no clinical content | 404 | 404 |
| anyone else (other doctors and patients, anonymous) | 404, as for a record that does not exist | 404 | 404 |

The care relation (`has_care_relation`) is real contact, never a claim: a consultation
between the two (any type, the queue's in-person visits included), a place in the doctor's
queue today or a place the doctor finished on any day, or an appointment with the doctor
that was kept (checked in, in consultation, completed) or is booked and not yet over. A
cancelled appointment never counts, whoever cancelled it, and neither does a missed one:
otherwise booking in a patient's name and cancelling would open their record. Audit rows
record reads; they do not stand in for this rule.

The queue is records' sibling in the layers, so records never imports it: the queue's
answer comes through `QueuePlaces`, which the runtime puts into every session's `info`
(`queue_places_info`), as identity is handed its `CodeSender`.

The clinical lists (allergies, conditions, medications) follow the record: its readers read
them (staff reads audited), and the doctors who may read the record keep them.

Each public decision's docstring opens with its rule in one line: `scripts/access_matrix.py`
quotes it into docs/access.md.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import access as consultation_access
from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationStatus, ConsultationView
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.identity.roles import AUDITED_READERS
from clinicflow.identity.schemas import Role
from clinicflow.scheduling import service as scheduling


class View(StrEnum):
    """How much of a record the reader sees."""

    full = "full"
    appointments = "appointments"


class Visit(Protocol):
    """A consultation as the record shows it: a `ConsultationView`, or a line of the timeline."""

    @property
    def doctor_id(self) -> uuid.UUID: ...
    @property
    def status(self) -> str: ...
    @property
    def in_person(self) -> bool: ...


QUEUE_PLACES_KEY = "clinicflow.records.queue_places"


class QueuePlaces(Protocol):
    """The queue's answer to "does this patient have a place with this doctor?": a place in
    the doctor's queue today (any status), or one the doctor finished on any day."""

    async def __call__(
        self, session: AsyncSession, *, doctor_id: uuid.UUID, patient_id: uuid.UUID
    ) -> bool: ...


def queue_places_info(places: QueuePlaces) -> dict[str, Any]:
    """What the runtime puts into every session's `info`, so the care relation reads the
    queue with neither a global nor an import of the queue."""
    return {QUEUE_PLACES_KEY: places}


async def has_care_relation(
    session: AsyncSession, *, doctor_id: uuid.UUID, patient_id: uuid.UUID
) -> bool:
    """Whether the doctor really has (or had) the patient in their care: a consultation, a
    place in their queue today or one they finished, or a kept or upcoming appointment."""
    if await consultations.treats(session, doctor_id=doctor_id, patient_id=patient_id):
        return True
    if await scheduling.has_kept_or_upcoming_appointment(
        session, doctor_id=doctor_id, patient_id=patient_id
    ):
        return True
    places: QueuePlaces = session.info[QUEUE_PLACES_KEY]
    return await places(session, doctor_id=doctor_id, patient_id=patient_id)


async def _is_patient(session: AsyncSession, patient_id: uuid.UUID) -> bool:
    found = await identity.users(session, [patient_id])
    return bool(found) and found[0].role is Role.patient


async def record_view(session: AsyncSession, actor: Actor, patient_id: uuid.UUID) -> View:
    """Its patient and their doctors see the whole record, admins too, receptionists appointments.

    "Their doctors": a doctor with a care relation to the patient (`has_care_relation`).
    The same not-found answers for a patient who does not exist and one the actor may not
    see.
    """
    if actor.role is Role.patient:
        if actor.id == patient_id:
            return View.full
        raise not_found()
    if actor.role is Role.doctor:
        if await has_care_relation(session, doctor_id=actor.id, patient_id=patient_id):
            return View.full
        raise not_found()
    if not await _is_patient(session, patient_id):
        raise not_found()
    return View.full if actor.role is Role.admin else View.appointments


async def require_clinical_reader(
    session: AsyncSession, actor: Actor, patient_id: uuid.UUID
) -> None:
    """Notes and prescriptions are for readers of the whole record (not found for the others).

    A receptionist, who sees appointments alone, is told the same not-found as an outsider.
    """
    if await record_view(session, actor, patient_id) is not View.full:
        raise not_found()


async def require_list_keeper(session: AsyncSession, actor: Actor, patient_id: uuid.UUID) -> None:
    """Doctors who may read the record keep its allergies, conditions and medications.

    The patient and admins read the lists but are told 403 when they try to change them;
    receptionists and outsiders get the record's not-found.
    """
    await require_clinical_reader(session, actor, patient_id)
    if actor.role is not Role.doctor:
        raise AppError(ErrorCode.forbidden, _("Only the patient's doctors change these lists."))


def keeps_lists(actor: Actor) -> bool:
    """The chart offers the list forms to doctors (who may read it, so keep its lists)."""
    return actor.role is Role.doctor


def sees_overrides(actor: Actor) -> bool:
    """Why a warned prescription was issued anyway is for staff; the patient never sees it."""
    return actor.role is not Role.patient


def reads_are_audited(actor: Actor) -> bool:
    """Doctors' and admins' reads of a record are audited; a patient reading their own is not."""
    return actor.role in AUDITED_READERS


def sees_amendments(actor: Actor) -> bool:
    """Earlier versions of a note are for staff; the patient sees the latest, marked amended."""
    return actor.role is not Role.patient


def require_searcher(view: View) -> None:
    """Searching the clinical text is for readers of the whole record (403 for receptionists)."""
    if view is not View.full:
        raise AppError(ErrorCode.forbidden, _("Only clinical staff search visit notes."))


async def consultation_to_write(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> ConsultationView:
    """The consultation, locked, for its doctor to write notes and prescriptions (`can_write_visit`).

    Outsiders get the consultation's own not-found, others 403, and the doctor 409 in a
    status that does not allow it.
    """
    consultation = await consultations.consultation_for(
        session=session, actor=actor, consultation_id=consultation_id, for_update=True
    )
    consultation_access.require_doctor(actor, consultation)
    if not can_write_visit(actor, consultation):
        raise consultation_access.not_open(consultation)
    return consultation


def can_write_visit(actor: Actor, consultation: Visit) -> bool:
    """Its doctor writes notes and prescriptions once it ended; in person, already during the visit.

    A remote consultation's record is written once it is over, so the patient has it the
    moment it is finished. At the clinic the doctor prescribes before pressing Finish, with
    the patient in the room, so an in-person visit is written while it is active too. A
    cancelled visit (the patient was not there) takes nothing new.
    """
    if actor.id != consultation.doctor_id:
        return False
    if consultation.status == ConsultationStatus.ended:
        return True
    return consultation.in_person and consultation.status == ConsultationStatus.active


def require_exporter(actor: Actor, patient_id: uuid.UUID, view: View) -> None:
    """The whole record leaves the clinic only at its patient's request (403 for its staff)."""
    if actor.id != patient_id:
        if view is View.full:
            raise AppError(ErrorCode.forbidden, _("Only the patient downloads their record."))
        raise not_found()


def require_own_record_page(actor: Actor) -> None:
    """ "My records" is a patient's page; staff open a patient's chart instead."""
    if actor.role is not Role.patient:
        raise AppError(ErrorCode.forbidden, _("This page is for patients."))
