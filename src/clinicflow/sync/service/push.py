"""The push: mutations an offline client made, applied in order, each at most once.

Each mutation runs in its own savepoint through the same verb as online (a walk-in through
`queue.walk_in`, a check-in through `queue.check_in`, a cancel through
`scheduling.cancel`), so it can do nothing the person could not do online, and a refused
one leaves no trace while the others of the batch still apply. Its first act is to claim
(user, client id) in `sync_mutations`, in the same transaction as its effect: a resend
finds the row and answers `duplicate` with the stored result; a concurrent resend waits on
the primary key and then finds it. A mutation made against an older version of an
appointment than the server's answers `conflict` with the server's appointment, stored
nowhere, for the person to decide.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.queue import access as queue_access
from clinicflow.queue import service as queues
from clinicflow.queue.schemas import CheckInIn, WalkInIn
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import AppointmentView
from clinicflow.sync.models import AppliedMutation
from clinicflow.sync.schemas import MutationIn, MutationType, Outcome, ResultOut

M = TypeVar("M", bound=BaseModel)


class AppointmentIn(BaseModel):
    appointment_id: uuid.UUID


class Conflict(Exception):
    """The mutation was made against an older version: nothing is applied or stored."""

    def __init__(self, current: dict[str, Any]) -> None:
        super().__init__("conflict")
        self.current = current


Applied = tuple[Outcome, dict[str, Any]]
Apply = Callable[[AsyncSession, Settings, Actor, MutationIn], Awaitable[Applied]]


async def push(
    *, session: AsyncSession, settings: Settings, actor: Actor, mutations: Sequence[MutationIn]
) -> list[ResultOut]:
    """One result per mutation, in the order sent (the order the person made them)."""
    return [await _one(session, settings, actor, mutation) for mutation in mutations]


async def _one(
    session: AsyncSession, settings: Settings, actor: Actor, mutation: MutationIn
) -> ResultOut:
    # A lost race (another desk registered the same person, another tab sent the same
    # mutation) shows as a unique index refusing; the second attempt sees the winner's
    # committed rows and answers from them.
    for attempt in (1, 2):
        stored = await _stored(session, actor, mutation.client_id)
        if stored is not None:
            return ResultOut(
                client_id=mutation.client_id, status=Outcome.duplicate, result=stored.result
            )
        try:
            async with session.begin_nested():
                row = AppliedMutation(
                    user_id=actor.id,
                    client_id=mutation.client_id,
                    type=mutation.type.value,
                    status=Outcome.applied.value,
                    result=None,
                    created_at=clock.now(),
                )
                session.add(row)
                await session.flush()
                status, result = await APPLY[mutation.type](session, settings, actor, mutation)
                row.status, row.result = status.value, result
                await session.flush()
        except IntegrityError:
            if attempt == 2:
                raise
            continue
        except Conflict as conflict:
            return ResultOut(
                client_id=mutation.client_id, status=Outcome.conflict, result=conflict.current
            )
        except AppError as error:
            return ResultOut(
                client_id=mutation.client_id,
                status=Outcome.rejected,
                error=error.body()["error"],
            )
        return ResultOut(client_id=mutation.client_id, status=status, result=result)
    raise AssertionError("unreachable")  # pragma: no cover


async def _stored(session: AsyncSession, actor: Actor, client_id: str) -> AppliedMutation | None:
    found: AppliedMutation | None = await session.scalar(
        select(AppliedMutation)
        .where(AppliedMutation.user_id == actor.id, AppliedMutation.client_id == client_id)
        .execution_options(populate_existing=True)
    )
    return found


def _data(model: type[M], mutation: MutationIn) -> M:
    try:
        return model.model_validate(mutation.data)
    except ValidationError as exc:
        raise AppError(
            ErrorCode.validation_error,
            _("This change is not complete; it cannot be applied."),
            {"errors": [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]},
        ) from None


async def _entry(session: AsyncSession, entry: Any, *, with_name: bool) -> dict[str, Any]:
    """A place as the queue's API answers it."""
    current = await queues.state(session, await queues.queue_of(session, entry))
    name = None
    if with_name:
        name = (await identity.names(session, [entry.patient_id])).get(entry.patient_id)
    return current.entry(entry, name).model_dump(mode="json")


async def _walk_in(
    session: AsyncSession, _settings: Settings, actor: Actor, mutation: MutationIn
) -> Applied:
    body = _data(WalkInIn, mutation)
    try:
        entry = await queues.walk_in(
            session=session,
            actor=actor,
            doctor_id=body.doctor_id,
            phone=body.phone,
            name=body.name,
            severity=body.severity,
            patient_type=body.patient_type,
            profile=body.profile.model_dump(exclude_unset=True) if body.profile else None,
        )
    except AppError as error:
        held = error.details.get("entry_id") if error.code is ErrorCode.already_in_queue else None
        if held is None:
            raise
        # The person already has a place (another desk registered them, online or from
        # its own offline batch): this registration is that one.
        entry = await queue_access.get_entry_for(session, actor, uuid.UUID(held))
        return Outcome.duplicate, await _entry(session, entry, with_name=True)
    return Outcome.applied, await _entry(session, entry, with_name=True)


async def _current(
    session: AsyncSession, actor: Actor, appointment_id: uuid.UUID, base_version: int | None
) -> None:
    """Refuse with a conflict when the client saw an older version than the server's."""
    row = await scheduling.get_appointment(
        session=session, actor=actor, appointment_id=appointment_id
    )
    current = AppointmentView.model_validate(row)
    if base_version is not None and base_version < current.version:
        raise Conflict(current.model_dump(mode="json"))


async def _check_in(
    session: AsyncSession, settings: Settings, actor: Actor, mutation: MutationIn
) -> Applied:
    body = _data(CheckInIn, mutation)
    if body.appointment_id is not None:
        await _current(session, actor, body.appointment_id, mutation.base_version)
    entry, created = await queues.check_in(
        session=session,
        settings=settings,
        actor=actor,
        appointment_id=body.appointment_id,
        code=body.code,
    )
    outcome = Outcome.applied if created else Outcome.duplicate
    return outcome, await _entry(session, entry, with_name=queue_access.is_front_desk(actor))


async def _cancel(
    session: AsyncSession, settings: Settings, actor: Actor, mutation: MutationIn
) -> Applied:
    body = _data(AppointmentIn, mutation)
    await _current(session, actor, body.appointment_id, mutation.base_version)
    row = await scheduling.cancel(
        session=session, settings=settings, actor=actor, appointment_id=body.appointment_id
    )
    return Outcome.applied, AppointmentView.model_validate(row).model_dump(mode="json")


APPLY: dict[MutationType, Apply] = {
    MutationType.walk_in: _walk_in,
    MutationType.check_in: _check_in,
    MutationType.appointment_cancel: _cancel,
}
