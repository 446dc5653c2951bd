"""The consultation's lifecycle: its transition table, the one function that moves it, the
verbs that do (start, accept, decline, end, and the queue's open and end of a visit), and
`join`, the line that says someone has come into the conversation.

```
pending ──accept──▶ active ──end──▶ ended
   └──decline(reason)──▶ declined    └──cancel_visit──▶ cancelled (in person only)
```

An in-person visit (`open_in_person`) is created pending and moved to active at once by the
queue's call, without a line in the conversation (nobody chats in it) or a notification (the
queue has told the patient it is their turn).

Every move leaves a system message in the conversation, an audit row, an event to both
people and a notification (`_transition`). Leaving `active` (end, cancel_visit) also runs
the hooks of the domains above (`closing.announce_closed`: calls hang up), in the same
transaction.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import access, schemas
from clinicflow.consultations.models import Consultation
from clinicflow.consultations.schemas import (
    ConsultationStatus,
    ConsultationType,
    MessageKind,
    SenderRole,
)
from clinicflow.consultations.service.checks import invalid, valid_text
from clinicflow.consultations.service.closing import announce_closed
from clinicflow.consultations.service.describing import publish_change, publish_update
from clinicflow.consultations.service.sending import append, by_client_id
from clinicflow.core import audit, clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.notifications import service as notifications
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import AppointmentView

S = ConsultationStatus
# Every move a consultation makes: from each status, the statuses it may go to. A
# consultation is created `INITIAL`; nothing leaves `declined` or `ended`.
INITIAL = S.pending
TRANSITIONS: dict[ConsultationStatus, frozenset[ConsultationStatus]] = {
    S.pending: frozenset({S.active, S.declined}),
    # cancelled: an in-person visit whose patient was skipped, or whose call was undone
    S.active: frozenset({S.ended, S.cancelled}),
    S.declined: frozenset(),
    S.ended: frozenset(),
    S.cancelled: frozenset(),
}
# Open: waiting for the doctor or under way (the desk's list, the assistant's answers).
LIVE = (S.pending, S.active)


def require_move(consultation: access.Parties, to: ConsultationStatus) -> None:
    """Refuse (409 `invalid_transition`) a move the table does not have."""
    if to not in TRANSITIONS[consultation.status]:
        raise AppError(
            ErrorCode.invalid_transition,
            _("This consultation cannot make that change in its current status."),
            {"status": consultation.status.value, "to": to.value},
        )


def move(consultation: Consultation, to: ConsultationStatus) -> None:
    """The only writer of `consultation.status` after its creation: applies a move the table
    has and refuses any other."""
    require_move(consultation, to)
    consultation.status = to


async def start(
    *,
    session: AsyncSession,
    actor: Actor,
    doctor_id: uuid.UUID,
    problem: str,
    type: ConsultationType,
    max_pending: int,
    appointment_id: uuid.UUID | None = None,
) -> Consultation:
    """A patient asks a doctor for a consultation; it waits (pending) until the doctor
    answers. A patient may have at most `max_pending` waiting at once, so one person
    cannot fill every doctor's list with requests."""
    access.require_patient(actor)
    problem = valid_text(problem.strip(), field="problem", max_length=schemas.MAX_PROBLEM)
    doctor = await identity.get_doctor(session, doctor_id)
    await _refuse_past_pending_cap(session, actor, max_pending)
    if appointment_id is not None:
        await _check_appointment(session, actor, appointment_id, doctor.id)
    consultation = Consultation(
        id=uuid.uuid4(),
        patient_id=actor.id,
        doctor_id=doctor.id,
        appointment_id=appointment_id,
        problem=problem,
        type=type,
        status=INITIAL,
        last_seq=0,
    )
    session.add(consultation)
    await session.flush()
    await audit.record(
        session,
        action="consultation.start",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
        details={"doctor_id": str(doctor.id), "type": type.value},
    )
    await publish_change(
        session, consultation, "consultation.created", [], users=[consultation.doctor_id]
    )
    return consultation


async def _refuse_past_pending_cap(session: AsyncSession, actor: Actor, max_pending: int) -> None:
    waiting = await session.scalar(
        select(func.count())
        .select_from(Consultation)
        .where(Consultation.patient_id == actor.id, Consultation.status == S.pending)
    )
    if (waiting or 0) >= max_pending:
        raise AppError(
            ErrorCode.too_many_pending,
            _(
                "You already have {count} consultation requests waiting for a doctor. "
                "Wait for an answer, or cancel one, before asking again."
            ).format(count=max_pending),
            {"max_pending": max_pending},
        )


async def _check_appointment(
    session: AsyncSession, actor: Actor, appointment_id: uuid.UUID, doctor_id: uuid.UUID
) -> None:
    """A linked appointment must be the patient's own, with the same doctor."""
    problem = invalid("appointment_id", _("Link one of your appointments with this doctor."))
    try:
        appointment = await scheduling.get_appointment(
            session=session, actor=actor, appointment_id=appointment_id
        )
    except AppError as exc:
        if exc.code is ErrorCode.not_found:
            raise problem from None
        raise
    if appointment.doctor_id != doctor_id or not access.is_patient_of(actor, appointment):
        raise problem


async def _doctors_change(
    session: AsyncSession, actor: Actor, consultation_id: uuid.UUID, *, to: S
) -> Consultation:
    """The consultation, locked, if the actor is its doctor and the table lets it move `to`:
    every status change starts here so two of them cannot interleave, and a wrong status is
    refused before the rest of the request is looked at."""
    consultation = await access.get_consultation_for(
        session, actor, consultation_id, for_update=True
    )
    access.require_doctor(actor, consultation)
    require_move(consultation, to)
    return consultation


async def accept(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
) -> Consultation:
    consultation = await _doctors_change(session, actor, consultation_id, to=S.active)
    if consultation.type is not ConsultationType.chat:
        # Copied, not referenced: a later change of the doctor's link must not alter this
        # consultation. A doctor without a link still accepts; the answer shows none.
        doctor = await identity.get_doctor(session, consultation.doctor_id)
        consultation.meet_url = doctor.doctor.meet_url if doctor.doctor else None
    move(consultation, S.active)
    consultation.accepted_at = clock.now()
    await _transition(session, consultation, actor, "accepted")
    return consultation


async def decline(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    reason: str,
) -> Consultation:
    consultation = await _doctors_change(session, actor, consultation_id, to=S.declined)
    consultation.decline_reason = valid_text(
        reason.strip(), field="reason", max_length=schemas.MAX_REASON
    )
    move(consultation, S.declined)
    consultation.ended_at = clock.now()
    await _transition(session, consultation, actor, "declined")
    return consultation


async def end(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
) -> Consultation:
    consultation = await _doctors_change(session, actor, consultation_id, to=S.ended)
    now = clock.now()
    move(consultation, S.ended)
    consultation.ended_at = now
    started = consultation.accepted_at or consultation.created_at
    consultation.duration_seconds = max(0, int((now - started).total_seconds()))
    await _transition(session, consultation, actor, "ended")
    await announce_closed(session, actor, consultation)
    return consultation


async def open_for_visit(
    *, session: AsyncSession, actor: Actor, appointment: AppointmentView, meet_url: str
) -> Consultation:
    """The consultation of an online appointment whose patient the doctor calls from the
    queue: the one the patient already started for it (accepted now), or a new active
    video consultation; either way with the doctor's link as it is at the call. The
    appointment is scheduling's frozen view: its id, its two people and its reason."""
    consultation = await session.scalar(
        select(Consultation)
        .where(Consultation.appointment_id == appointment.id, Consultation.status.in_(LIVE))
        .order_by(Consultation.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    if consultation is not None and consultation.status is S.active:
        consultation.meet_url = meet_url
        await session.flush()
        await publish_update(session, consultation)
        return consultation
    if consultation is None:
        consultation = Consultation(
            id=uuid.uuid4(),
            patient_id=appointment.patient_id,
            doctor_id=appointment.doctor_id,
            appointment_id=appointment.id,
            problem=appointment.reason or _("Appointment"),
            type=ConsultationType.video,
            status=INITIAL,
            last_seq=0,
        )
        session.add(consultation)
        await session.flush()
    consultation.meet_url = meet_url
    move(consultation, S.active)
    consultation.accepted_at = clock.now()
    await _transition(session, consultation, actor, "accepted")
    return consultation


async def open_in_person(
    *,
    session: AsyncSession,
    actor: Actor,
    doctor_id: uuid.UUID,
    patient_id: uuid.UUID,
    appointment: AppointmentView | None,
) -> Consultation:
    """The visit of a patient called from the queue at the clinic to `doctor_id` (by the
    doctor, or by the front desk, `actor`, on the doctor's behalf): a new active
    `in_person` consultation between them, linked to the in-person appointment when there
    is one. Its record (note, prescriptions) is written as for any consultation."""
    reason = appointment.reason if appointment is not None else None
    consultation = Consultation(
        id=uuid.uuid4(),
        patient_id=patient_id,
        doctor_id=doctor_id,
        appointment_id=appointment.id if appointment is not None else None,
        problem=reason or _("Visit at the clinic"),
        type=ConsultationType.in_person,
        status=INITIAL,
        last_seq=0,
    )
    session.add(consultation)
    await session.flush()
    move(consultation, S.active)
    consultation.accepted_at = clock.now()
    await session.flush()
    await audit.record(
        session,
        action="consultation.opened_in_person",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
        details={"patient_id": str(patient_id)},
    )
    await publish_update(session, consultation)
    return consultation


async def cancel_visit(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> Consultation | None:
    """Cancel the in-person visit of a patient who turned out not to be there (skipped), or
    whose call was undone; one already over is left as it is (None). What the doctor wrote
    in it stays in the record, under the cancelled visit."""
    consultation = await access.get_consultation_for(
        session, actor, consultation_id, for_update=True
    )
    access.require_doctor(actor, consultation)
    if consultation.type is not ConsultationType.in_person or consultation.status is not S.active:
        return None
    move(consultation, S.cancelled)
    consultation.ended_at = clock.now()
    await session.flush()
    await audit.record(
        session,
        action="consultation.cancelled",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
    )
    await publish_update(session, consultation)
    await announce_closed(session, actor, consultation)
    return consultation


async def end_if_open(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> Consultation | None:
    """End the consultation of a finished queue visit, unless it has ended already."""
    consultation = await access.get_consultation_for(
        session, actor, consultation_id, for_update=True
    )
    if consultation.status is not S.active:
        return None
    return await end(session=session, actor=actor, consultation_id=consultation_id)


async def _transition(
    session: AsyncSession,
    consultation: Consultation,
    actor: Actor,
    event: str,
) -> None:
    """Store the new status, say so in the conversation, audit it and tell both people."""
    await session.flush()
    await _system_message(session, consultation, actor, event)
    await audit.record(
        session,
        action=f"consultation.{event}",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
    )
    await publish_update(session, consultation)
    await notifications.about_consultation(session, event=event, consultation=consultation)


async def _system_message(
    session: AsyncSession, consultation: Consultation, actor: Actor, event: str
) -> schemas.MessageView:
    """A line in the conversation that records an event (accepted, declined, ended); its
    `sender_id` names whose action it was. Each happens once, so its client id is fixed."""
    message, _created = await append(
        session,
        consultation,
        client_id=f"system:{event}",
        sender_id=actor.id,
        sender_role=SenderRole.system,
        kind=MessageKind.system,
        body=event,
        statuses=None,
    )
    return message


async def join(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> tuple[schemas.MessageView, bool]:
    """Say in the conversation that the patient or doctor has opened it; once per person.

    Called by the chat page when it opens and by "join the call"; the second and later
    calls answer with the first one's message.
    """
    consultation = await access.get_consultation_for(session, actor, consultation_id)
    access.require_participant(actor, consultation)
    client_id = f"system:joined:{actor.id}"
    existing = await by_client_id(session, consultation.id, client_id)
    if existing is not None:
        return existing, False
    if consultation.status is not S.active:
        raise access.not_open(consultation)
    return await append(
        session,
        consultation,
        client_id=client_id,
        sender_id=actor.id,
        sender_role=SenderRole.system,
        kind=MessageKind.system,
        body="joined",
        statuses=(S.active,),
    )
