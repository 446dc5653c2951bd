"""The patient's history: appointments and consultations, newest first, a page at a time,
with filters and a search over the clinical text. Staff reads are audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.calls import service as calls
from clinicflow.consultations import schemas as consultation_schemas
from clinicflow.consultations import service as consultations
from clinicflow.core import cursors
from clinicflow.core.audit import Actor
from clinicflow.identity import service as identity
from clinicflow.records import access, schemas
from clinicflow.records.models import Prescription, VisitNoteVersion
from clinicflow.records.service.notes import note_out, versions_of
from clinicflow.records.service.prescriptions import describe_prescriptions
from clinicflow.records.service.read_audit import audit_read
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import AppointmentView

PAGE = 20
MAX_PAGE = 100


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def _matching_consultations(
    session: AsyncSession, actor: Actor, patient_id: uuid.UUID, query: str
) -> set[uuid.UUID]:
    """The patient's consultations whose latest note, prescriptions or messages contain the
    words of `query` (all of them, any case). The text is encrypted at rest, so it is read
    and matched here, within this one patient's rows only.

    Only text the searcher may read is matched: notes and prescriptions are the record's
    (the caller reads the whole record, `access.require_searcher`), but the messages are
    only those of conversations the caller may read (`patient_messages` asks the
    consultation's rule), so a hit never reveals words of another doctor's chat."""
    words = query.casefold().split()
    texts: dict[uuid.UUID, list[str]] = {}
    notes = await session.scalars(
        select(VisitNoteVersion)
        .where(VisitNoteVersion.patient_id == patient_id)
        .order_by(VisitNoteVersion.consultation_id, VisitNoteVersion.version)
    )
    latest = {row.consultation_id: row for row in notes}
    for row in latest.values():
        texts.setdefault(row.consultation_id, []).extend([row.body_markdown, row.diagnosis])
    for prescription in await session.scalars(
        select(Prescription).where(Prescription.patient_id == patient_id)
    ):
        texts.setdefault(prescription.consultation_id, []).append(prescription.content)
    for message in await consultations.patient_messages(
        session, patient_id=patient_id, reader=actor
    ):
        texts.setdefault(message.consultation_id, []).append(message.body)
    return {
        consultation_id
        for consultation_id, parts in texts.items()
        if all(word in "\n".join(parts).casefold() for word in words)
    }


@dataclass(frozen=True)
class Entry:
    """One line of the timeline, a consultation or an appointment, placed at its time (an
    appointment's start, a consultation's creation); the export lists the same lines."""

    at: datetime
    id: uuid.UUID
    consultation: consultation_schemas.ConsultationView | None = None
    appointment: AppointmentView | None = None

    @property
    def doctor_id(self) -> uuid.UUID:
        source = self.consultation or self.appointment
        assert source is not None
        return source.doctor_id


async def history(
    *,
    session: AsyncSession,
    actor: Actor,
    patient_id: uuid.UUID,
    public_url: str,
    cursor: str | None = None,
    start: date | None = None,
    end: date | None = None,
    doctor_id: uuid.UUID | None = None,
    query: str | None = None,
    limit: int = PAGE,
) -> schemas.HistoryPage:
    """The patient's appointments and consultations, newest first, `limit` at a time; `end`
    is inclusive. A search (`query`) returns consultations only. Receptionists see
    appointments only; doctors' and admins' reads are audited."""
    view = await access.record_view(session, actor, patient_id)
    query = (query or "").strip() or None
    if query is not None:
        access.require_searcher(view)
    limit = max(1, min(limit, MAX_PAGE))
    before = cursors.decode(cursor) if cursor else None
    since = _day_start(start) if start else None
    # The day after the last one shown; the last day of the calendar has none (no bound).
    until = _day_start(end + timedelta(days=1)) if end and end < date.max else None
    entries: list[Entry] = []
    if view is access.View.full:
        only = await _matching_consultations(session, actor, patient_id, query) if query else None
        for c in await consultations.patient_consultations(
            session,
            patient_id=patient_id,
            doctor_id=doctor_id,
            start=since,
            end=until,
            before=before,
            only=only,
            limit=limit + 1,
        ):
            entries.append(Entry(c.created_at, c.id, consultation=c))
    if query is None:
        for a in await scheduling.appointments_of_patient(
            session=session,
            patient_id=patient_id,
            doctor_id=doctor_id,
            start=since,
            end=until,
            before=before,
            limit=limit + 1,
        ):
            entries.append(Entry(a.starts_at, a.id, appointment=a))
    entries.sort(key=lambda e: (e.at, e.id), reverse=True)
    page = entries[:limit]
    next_cursor = cursors.encode(page[-1].at, page[-1].id) if len(entries) > limit else None
    items = await history_items(
        session,
        page,
        public_url=public_url,
        with_history=False,
        staff=access.sees_overrides(actor),
    )
    await audit_read(
        session,
        actor,
        "records.history_read",
        "patient",
        patient_id,
        {"items": len(items), "view": view.value, "searched": query is not None},
    )
    return schemas.HistoryPage(items=items, next_cursor=next_cursor)


async def history_items(
    session: AsyncSession,
    entries: Sequence[Entry],
    *,
    public_url: str,
    with_history: bool,
    staff: bool = False,
) -> list[schemas.HistoryItem]:
    """The answer shape of these lines, with the notes, prescriptions, calls and doctors'
    names looked up in one query each whatever the number of lines (override reasons for
    `staff` only)."""
    consultation_ids = [e.consultation.id for e in entries if e.consultation]
    notes = await versions_of(session, consultation_ids)
    prescriptions = await _prescriptions_of(
        session, consultation_ids, public_url=public_url, staff=staff
    )
    calls_of = await calls.calls_of(session, consultation_ids)
    names = await identity.names(session, {e.doctor_id for e in entries})
    items = []
    for entry in entries:
        if entry.consultation is not None:
            c = entry.consultation
            versions = notes.get(c.id)
            items.append(
                schemas.HistoryItem(
                    kind="consultation",
                    id=c.id,
                    doctor_id=c.doctor_id,
                    doctor_name=names.get(c.doctor_id, ""),
                    at=entry.at,
                    mode=c.type.value,
                    status=c.status.value,
                    duration_seconds=c.duration_seconds,
                    appointment_id=c.appointment_id,
                    problem=c.problem,
                    note=note_out(versions, with_history=with_history) if versions else None,
                    prescriptions=prescriptions.get(c.id, []),
                    calls=calls_of.get(c.id, []),
                )
            )
        elif entry.appointment is not None:
            a = entry.appointment
            items.append(
                schemas.HistoryItem(
                    kind="appointment",
                    id=a.id,
                    doctor_id=a.doctor_id,
                    doctor_name=names.get(a.doctor_id, ""),
                    at=entry.at,
                    mode=a.mode.value,
                    status=a.status.value,
                    duration_seconds=int((a.ends_at - a.starts_at).total_seconds()),
                )
            )
    return items


async def _prescriptions_of(
    session: AsyncSession, consultation_ids: Sequence[uuid.UUID], *, public_url: str, staff: bool
) -> dict[uuid.UUID, list[schemas.PrescriptionOut]]:
    found: dict[uuid.UUID, list[schemas.PrescriptionOut]] = {}
    if not consultation_ids:
        return found
    rows = list(
        await session.scalars(
            select(Prescription)
            .where(Prescription.consultation_id.in_(list(consultation_ids)))
            .order_by(Prescription.issued_at, Prescription.id)
        )
    )
    for described in await describe_prescriptions(
        session, rows, public_url=public_url, staff=staff
    ):
        found.setdefault(described.consultation_id, []).append(described)
    return found
