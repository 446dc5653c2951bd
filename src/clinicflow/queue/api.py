"""HTTP routes of the queue: thin translations between JSON and the service."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Response, status

from clinicflow.deps import CurrentUser, Session, SettingsDep
from clinicflow.identity import service as identity
from clinicflow.queue import priority, schemas
from clinicflow.queue import service as queues
from clinicflow.queue.models import QueueEntry, QueueRules
from clinicflow.routing import TransactionalRoute

router = APIRouter(prefix="/api", route_class=TransactionalRoute, tags=["queue"])


@router.post("/queue/check-in")
async def check_in(
    body: schemas.CheckInIn,
    session: Session,
    settings: SettingsDep,
    user: CurrentUser,
    response: Response,
) -> schemas.EntryOut:
    entry, created = await queues.check_in(
        session=session,
        settings=settings,
        actor=user,
        appointment_id=body.appointment_id,
        code=body.code,
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return await _entry(session, entry)


@router.post("/queue/walk-in", status_code=status.HTTP_201_CREATED)
async def walk_in(body: schemas.WalkInIn, session: Session, user: CurrentUser) -> schemas.EntryOut:
    entry = await queues.walk_in(
        session=session,
        actor=user,
        doctor_id=body.doctor_id,
        phone=body.phone,
        name=body.name,
        severity=body.severity,
        patient_type=body.patient_type,
        profile=body.profile.model_dump(exclude_unset=True) if body.profile else None,
    )
    return await _entry(session, entry, with_name=True)


async def _entry(
    session: Session, entry: QueueEntry, *, with_name: bool = False
) -> schemas.EntryOut:
    queue = await queues.queue_of(session, entry)
    current = await queues.state(session, queue)
    name = None
    if with_name:
        name = (await identity.names(session, [entry.patient_id])).get(entry.patient_id)
    return current.entry(entry, name)


@router.get("/queue/board")
async def board(session: Session) -> list[schemas.BoardRowOut]:
    """Public: the serving token of every doctor today, for a waiting-room screen."""
    return await queues.board(session)


@router.get("/queue/me")
async def my_queue(session: Session, user: CurrentUser) -> list[schemas.MyEntryOut]:
    return await queues.my_places(session=session, actor=user)


@router.get("/queue/entries/{entry_id}/history")
async def entry_history(
    entry_id: uuid.UUID, session: Session, user: CurrentUser
) -> list[schemas.ReassignmentOut]:
    rows = await queues.reassignments(session=session, actor=user, entry_id=entry_id)
    return [schemas.ReassignmentOut.model_validate(row) for row in rows]


@router.get("/queue/{doctor_id}")
async def get_queue(
    doctor_id: uuid.UUID, session: Session, user: CurrentUser, date: date | None = None
) -> schemas.QueueOut:
    current, entries = await queues.queue_for(
        session=session, actor=user, doctor_id=doctor_id, day=date
    )
    names = await queues.visible_names(session, user, doctor_id, entries)
    return queues.queue_out(current, entries, names)


@router.post("/queue/{doctor_id}/call-next")
async def call_next(doctor_id: uuid.UUID, session: Session, user: CurrentUser) -> schemas.EntryOut:
    current, entry = await queues.call_next(session=session, actor=user, doctor_id=doctor_id)
    return current.entry(entry, await queues.patient_name(session, entry))


@router.post("/queue/{doctor_id}/undo")
async def undo(doctor_id: uuid.UUID, session: Session, user: CurrentUser) -> schemas.EntryOut:
    current, entry = await queues.undo(session=session, actor=user, doctor_id=doctor_id)
    return current.entry(entry, await queues.patient_name(session, entry))


@router.post("/queue/{doctor_id}/pause")
async def pause(doctor_id: uuid.UUID, session: Session, user: CurrentUser) -> schemas.QueueOut:
    current = await queues.set_paused(session=session, actor=user, doctor_id=doctor_id, paused=True)
    return schemas.QueueOut(**current.public(), entries=[])


@router.post("/queue/{doctor_id}/resume")
async def resume(doctor_id: uuid.UUID, session: Session, user: CurrentUser) -> schemas.QueueOut:
    current = await queues.set_paused(
        session=session, actor=user, doctor_id=doctor_id, paused=False
    )
    return schemas.QueueOut(**current.public(), entries=[])


@router.post("/queue/entries/{entry_id}/finish")
async def finish(entry_id: uuid.UUID, session: Session, user: CurrentUser) -> schemas.EntryOut:
    current, entry = await queues.finish(session=session, actor=user, entry_id=entry_id)
    return current.entry(entry, await queues.patient_name(session, entry))


@router.post("/queue/entries/{entry_id}/finish-and-call-next")
async def finish_and_call_next(
    entry_id: uuid.UUID, session: Session, user: CurrentUser
) -> schemas.FinishedAndCalledOut:
    current, finished, called = await queues.finish_and_call_next(
        session=session, actor=user, entry_id=entry_id
    )
    return schemas.FinishedAndCalledOut(
        finished=current.entry(finished, await queues.patient_name(session, finished)),
        called=current.entry(called, await queues.patient_name(session, called))
        if called is not None
        else None,
    )


@router.post("/queue/entries/{entry_id}/no-show")
async def no_show(entry_id: uuid.UUID, session: Session, user: CurrentUser) -> schemas.EntryOut:
    current, entry = await queues.no_show(session=session, actor=user, entry_id=entry_id)
    return current.entry(entry, await queues.patient_name(session, entry))


@router.post("/queue/entries/{entry_id}/recall")
async def recall(entry_id: uuid.UUID, session: Session, user: CurrentUser) -> schemas.EntryOut:
    current, entry = await queues.recall(session=session, actor=user, entry_id=entry_id)
    return current.entry(entry, await queues.patient_name(session, entry))


@router.post("/queue/entries/{entry_id}/cancel")
async def cancel(entry_id: uuid.UUID, session: Session, user: CurrentUser) -> schemas.EntryOut:
    """Staff cancel the token of a waiting or missed patient who has left (`no_show`)."""
    current, entry = await queues.cancel(session=session, actor=user, entry_id=entry_id)
    return current.entry(entry, await queues.patient_name(session, entry))


@router.post("/queue/entries/{entry_id}/requeue", status_code=status.HTTP_201_CREATED)
async def requeue(
    entry_id: uuid.UUID,
    session: Session,
    user: CurrentUser,
    body: schemas.RequeueIn | None = None,
) -> schemas.EntryOut:
    entry = await queues.requeue(
        session=session,
        actor=user,
        entry_id=entry_id,
        reason=body.reason if body else None,
    )
    return await _entry(session, entry)


@router.post("/queue/entries/{entry_id}/move")
async def move(
    entry_id: uuid.UUID,
    body: schemas.MoveIn,
    session: Session,
    user: CurrentUser,
) -> schemas.EntryOut:
    current, entry = await queues.move(
        session=session,
        actor=user,
        entry_id=entry_id,
        before_entry_id=body.before_entry_id,
        reason=body.reason,
    )
    return current.entry(entry, await queues.patient_name(session, entry))


@router.post("/queue/entries/{entry_id}/ready")
async def ready(entry_id: uuid.UUID, session: Session, user: CurrentUser) -> schemas.EntryOut:
    entry = await queues.ready(session=session, actor=user, entry_id=entry_id)
    return await _entry(session, entry)


@router.put("/doctors/{doctor_id}/meet-link")
async def put_meet_link(
    doctor_id: uuid.UUID,
    body: schemas.MeetLinkIn,
    session: Session,
    user: CurrentUser,
) -> schemas.MeetLinkOut:
    told = await queues.set_meet_link(
        session=session,
        actor=user,
        doctor_id=doctor_id,
        meet_url=body.meet_url,
    )
    return schemas.MeetLinkOut(doctor_id=doctor_id, meet_url=body.meet_url, told=len(told))


@router.get("/admin/queue-rules")
async def get_rules(session: Session, user: CurrentUser) -> schemas.RulesOut:
    row, rules = await queues.rules_for(session=session, actor=user)
    return _rules_out(row, rules)


@router.put("/admin/queue-rules")
async def put_rules(body: schemas.RulesIn, session: Session, user: CurrentUser) -> schemas.RulesOut:
    _row, in_force = await queues.rules_for(session=session, actor=user)
    rules = queues.rules_from(body, grace=in_force.no_show_grace_minutes)
    row = await queues.set_rules(session=session, actor=user, rules=rules)
    return _rules_out(row, rules)


def _rules_out(row: QueueRules | None, rules: priority.Rules) -> schemas.RulesOut:
    return schemas.RulesOut(
        version=row.version if row else 0,
        updated_at=row.created_at if row else None,
        updated_by_id=row.created_by_id if row else None,
        **queues.rules_values(rules),
    )
