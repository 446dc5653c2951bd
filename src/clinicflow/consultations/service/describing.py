"""A consultation as its answers and events show it, and the topics those events go to.

Built here from the table (the schemas never see the table classes), with both people's
names looked up in one query.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import realtime
from clinicflow.consultations import schemas
from clinicflow.consultations.models import Consultation
from clinicflow.identity import service as identity


def topic(consultation_id: uuid.UUID) -> str:
    return f"consultation:{consultation_id}"


def consultation_out(
    consultation: Consultation, names: dict[uuid.UUID, str]
) -> schemas.ConsultationOut:
    recording = (
        schemas.RecordingOut(
            url=consultation.recording_url,
            duration_seconds=consultation.recording_duration_seconds,
            size_bytes=consultation.recording_size_bytes,
        )
        if consultation.recording_url
        else None
    )
    return schemas.ConsultationOut(
        id=consultation.id,
        patient_id=consultation.patient_id,
        patient_name=names.get(consultation.patient_id, ""),
        doctor_id=consultation.doctor_id,
        doctor_name=names.get(consultation.doctor_id, ""),
        appointment_id=consultation.appointment_id,
        type=consultation.type,
        status=consultation.status,
        problem=consultation.problem,
        decline_reason=consultation.decline_reason,
        meet_url=consultation.meet_url,
        created_at=consultation.created_at,
        accepted_at=consultation.accepted_at,
        ended_at=consultation.ended_at,
        duration_seconds=consultation.duration_seconds,
        last_seq=consultation.last_seq,
        recording=recording,
    )


def desk_entry(consultation: Consultation, names: dict[uuid.UUID, str]) -> schemas.DeskEntry:
    return schemas.DeskEntry(
        id=consultation.id,
        status=consultation.status,
        type=consultation.type,
        patient_id=consultation.patient_id,
        patient_name=names.get(consultation.patient_id, ""),
        doctor_id=consultation.doctor_id,
        doctor_name=names.get(consultation.doctor_id, ""),
        created_at=consultation.created_at,
        accepted_at=consultation.accepted_at,
    )


async def describe(
    session: AsyncSession, consultations: Sequence[Consultation]
) -> list[schemas.ConsultationOut]:
    """The answer shape, with both people's names looked up in one query."""
    people = await names_of_people(session, consultations)
    return [consultation_out(c, people) for c in consultations]


async def names_of_people(
    session: AsyncSession, consultations: Sequence[Consultation]
) -> dict[uuid.UUID, str]:
    return await identity.names(
        session, {c.patient_id for c in consultations} | {c.doctor_id for c in consultations}
    )


async def publish_change(
    session: AsyncSession,
    consultation: Consultation,
    kind: str,
    topics: Sequence[str],
    users: Sequence[uuid.UUID] = (),
) -> None:
    """Announce a change on the consultation's own topics and on the `user:<id>` topics of
    `users` (kept in realtime's per-user log, so a page that polls still sees it)."""
    data = (await describe(session, [consultation]))[0].model_dump(mode="json")
    for name in topics:
        realtime.publish_on_commit(session, realtime.Event(topic=name, type=kind, data=data))
    for user_id in users:
        await realtime.publish_to_user(session, user_id, type=kind, data=data)


async def publish_update(session: AsyncSession, consultation: Consultation) -> None:
    """Status changes reach the open chat and both people's lists (another tab, the
    doctor's queue of pending consultations)."""
    await publish_change(
        session,
        consultation,
        "consultation.updated",
        [topic(consultation.id)],
        users=[consultation.doctor_id, consultation.patient_id],
    )
