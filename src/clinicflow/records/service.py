"""The rules of the medical record: visit notes, prescriptions, the history and exports.

- A visit note is written by the consultation's doctor once the consultation has ended; a
  change adds a version (who, when, what), never overwrites one. Readers see the latest,
  marked as amended when there is more than one; staff also see the earlier versions.
- A prescription is issued by the consultation's doctor once it has ended and is never
  changed: a correction is a new prescription that supersedes it (once).
- A staff read of any part of a record leaves an audit row; so does every write.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import service as consultations
from clinicflow.consultations.models import Consultation, Message
from clinicflow.core import audit, clock, cursors
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.identity.models import User
from clinicflow.records import access, schemas
from clinicflow.records.models import Prescription, VisitNoteVersion
from clinicflow.records.rendering import markdown_to_html
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.models import Appointment

PAGE = 20
MAX_PAGE = 100
# Everything of one patient, for an export: far beyond any real record, but bounded.
EXPORT_LIMIT = 10_000
# Unambiguous when read aloud or typed from paper: no 0/O, 1/I/L or U.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
CODE_GROUPS = 3
CODE_GROUP_LENGTH = 4


# --- visit notes -----------------------------------------------------------------------------


def note_out(versions: Sequence[VisitNoteVersion], *, with_history: bool) -> schemas.VisitNoteOut:
    """The latest version of a note (versions oldest first), with the earlier ones if asked."""
    latest = versions[-1]
    return schemas.VisitNoteOut(
        consultation_id=latest.consultation_id,
        body_markdown=latest.body_markdown,
        body_html=markdown_to_html(latest.body_markdown),
        diagnosis=latest.diagnosis,
        follow_up_on=latest.follow_up_on,
        version=latest.version,
        amended=len(versions) > 1,
        written_at=versions[0].created_at,
        updated_at=latest.created_at,
        history=[
            schemas.NoteVersionOut(
                version=v.version,
                body_markdown=v.body_markdown,
                diagnosis=v.diagnosis,
                follow_up_on=v.follow_up_on,
                author_id=v.author_id,
                created_at=v.created_at,
            )
            for v in versions[:-1]
        ]
        if with_history
        else None,
    )


async def _versions(
    session: AsyncSession, consultation_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[VisitNoteVersion]]:
    """Every version of the notes of these consultations, oldest first, in one query."""
    wanted = list(set(consultation_ids))
    found: dict[uuid.UUID, list[VisitNoteVersion]] = {}
    if not wanted:
        return found
    rows = await session.scalars(
        select(VisitNoteVersion)
        .where(VisitNoteVersion.consultation_id.in_(wanted))
        .order_by(VisitNoteVersion.consultation_id, VisitNoteVersion.version)
    )
    for row in rows:
        found.setdefault(row.consultation_id, []).append(row)
    return found


async def _audit_read(
    session: AsyncSession,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID,
    client_ip: str | None,
    details: dict[str, object] | None = None,
) -> None:
    if access.reads_are_audited(actor):
        await audit.record(
            session,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            actor=actor,
            ip=client_ip,
            details=details,
        )


async def write_visit_note(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    note: schemas.VisitNoteIn,
    client_ip: str | None = None,
) -> schemas.VisitNoteOut:
    """Write the note, or amend it: a new version unless nothing changed (a repeated PUT
    stores nothing). The consultation's row is locked first, so two amendments queue and
    take consecutive version numbers."""
    consultation = await access.consultation_to_write(session, actor, consultation_id)
    versions = (await _versions(session, [consultation.id])).get(consultation.id, [])
    if versions and (
        versions[-1].body_markdown,
        versions[-1].diagnosis,
        versions[-1].follow_up_on,
    ) == (note.body_markdown, note.diagnosis, note.follow_up_on):
        return note_out(versions, with_history=True)
    row = VisitNoteVersion(
        id=uuid.uuid4(),
        consultation_id=consultation.id,
        patient_id=consultation.patient_id,
        doctor_id=consultation.doctor_id,
        version=len(versions) + 1,
        body_markdown=note.body_markdown,
        diagnosis=note.diagnosis,
        follow_up_on=note.follow_up_on,
        author_id=actor.id,
        created_at=clock.now(),
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        action="records.visit_note_written",
        resource_type="consultation",
        resource_id=consultation.id,
        actor=actor,
        ip=client_ip,
        details={"version": row.version, "length": len(note.body_markdown)},
    )
    return note_out([*versions, row], with_history=True)


async def read_visit_note(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    client_ip: str | None = None,
) -> schemas.VisitNoteOut:
    """The note for whoever may read the patient's record; a consultation without a note
    yet is not found, like one the actor may not see."""
    versions = (await _versions(session, [consultation_id])).get(consultation_id)
    if not versions:
        raise not_found()
    await access.require_clinical_reader(session, actor, versions[0].patient_id)
    await _audit_read(
        session, actor, "records.visit_note_read", "consultation", consultation_id, client_ip
    )
    return note_out(versions, with_history=access.sees_amendments(actor))


# --- prescriptions ---------------------------------------------------------------------------


def new_verification_code() -> str:
    """About 59 random bits in three groups of four: not guessable, easy to type."""
    groups = (
        "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH))
        for _ in range(CODE_GROUPS)
    )
    return "-".join(groups)


def normalize_code(code: str) -> str:
    """A code as typed from paper: any case, with or without the dashes."""
    compact = "".join(ch for ch in code.upper() if ch.isalnum())[: CODE_GROUPS * CODE_GROUP_LENGTH]
    return "-".join(
        compact[i : i + CODE_GROUP_LENGTH] for i in range(0, len(compact), CODE_GROUP_LENGTH)
    )


def verify_url(public_url: str, code: str) -> str:
    return f"{public_url.rstrip('/')}/verify/{code}"


async def issue_prescription(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    prescription: schemas.PrescriptionIn,
    client_ip: str | None = None,
) -> Prescription:
    consultation = await access.consultation_to_write(session, actor, consultation_id)
    if prescription.supersedes_id is not None:
        await _check_supersedable(session, consultation, prescription.supersedes_id)
    row = Prescription(
        id=uuid.uuid4(),
        consultation_id=consultation.id,
        patient_id=consultation.patient_id,
        doctor_id=consultation.doctor_id,
        issued_at=clock.now(),
        verification_code=new_verification_code(),
        content=json.dumps(prescription.model_dump(mode="json", exclude={"supersedes_id"})),
        supersedes_id=prescription.supersedes_id,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        # Two corrections of one prescription at once: the unique index lets one win.
        raise _already_superseded() from None
    await audit.record(
        session,
        action="records.prescription_issued",
        resource_type="prescription",
        resource_id=row.id,
        actor=actor,
        ip=client_ip,
        details={
            "consultation_id": str(consultation.id),
            "medications": len(prescription.medications),
            "supersedes_id": str(row.supersedes_id) if row.supersedes_id else None,
        },
    )
    return row


def _already_superseded() -> AppError:
    return AppError(
        ErrorCode.already_superseded,
        _("This prescription has already been replaced by a correction."),
        {"field": "supersedes_id"},
    )


async def _check_supersedable(
    session: AsyncSession, consultation: Consultation, supersedes_id: uuid.UUID
) -> None:
    """A correction replaces a prescription of the same consultation, once."""
    old = await session.get(Prescription, supersedes_id)
    if old is None or old.consultation_id != consultation.id:
        raise AppError(
            ErrorCode.validation_error,
            _("Choose a prescription of this consultation to correct."),
            {"field": "supersedes_id"},
        )
    if await _successors(session, [old.id]):
        raise _already_superseded()


async def _successors(
    session: AsyncSession, prescription_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """For each of these prescriptions that has been corrected, the correction's id."""
    wanted = list(set(prescription_ids))
    if not wanted:
        return {}
    rows = await session.execute(
        select(Prescription.supersedes_id, Prescription.id).where(
            Prescription.supersedes_id.in_(wanted)
        )
    )
    return {old: new for old, new in rows if old is not None}


async def describe_prescriptions(
    session: AsyncSession, rows: Sequence[Prescription], *, public_url: str
) -> list[schemas.PrescriptionOut]:
    """The answer shape, with names and corrections looked up in one query each."""
    names = await identity.names(
        session, {r.patient_id for r in rows} | {r.doctor_id for r in rows}
    )
    successors = await _successors(session, [r.id for r in rows])
    described = []
    for row in rows:
        content = json.loads(row.content)
        described.append(
            schemas.PrescriptionOut(
                id=row.id,
                consultation_id=row.consultation_id,
                patient_id=row.patient_id,
                patient_name=names.get(row.patient_id, ""),
                doctor_id=row.doctor_id,
                doctor_name=names.get(row.doctor_id, ""),
                issued_at=row.issued_at,
                verification_code=row.verification_code,
                verify_url=verify_url(public_url, row.verification_code),
                supersedes_id=row.supersedes_id,
                superseded_by_id=successors.get(row.id),
                **content,
            )
        )
    return described


async def read_prescription(
    *,
    session: AsyncSession,
    actor: Actor,
    prescription_id: uuid.UUID,
    client_ip: str | None = None,
) -> Prescription:
    """The prescription for whoever may read the patient's record (staff reads audited)."""
    row = await session.get(Prescription, prescription_id)
    if row is None:
        raise not_found()
    await access.require_clinical_reader(session, actor, row.patient_id)
    await _audit_read(
        session, actor, "records.prescription_read", "prescription", row.id, client_ip
    )
    return row


async def verify(*, session: AsyncSession, code: str) -> schemas.Verification:
    """What anyone holding the paper may learn: whether it is genuine, its date and doctor,
    and whether it has been replaced. Nothing about the patient or the medicines."""
    row = await session.scalar(
        select(Prescription).where(Prescription.verification_code == normalize_code(code))
    )
    if row is None:
        return schemas.Verification(genuine=False)
    names = await identity.names(session, [row.doctor_id])
    return schemas.Verification(
        genuine=True,
        issued_on=row.issued_at.date(),
        doctor_name=names.get(row.doctor_id, ""),
        superseded=bool(await _successors(session, [row.id])),
    )


# --- history ---------------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def _matching_consultations(
    session: AsyncSession, patient_id: uuid.UUID, query: str
) -> set[uuid.UUID]:
    """The patient's consultations whose latest note, prescriptions or messages contain the
    words of `query` (all of them, any case). The text is encrypted at rest, so it is read
    and matched here, within this one patient's rows only."""
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
    for message in await consultations.patient_messages(session, patient_id=patient_id):
        texts.setdefault(message.consultation_id, []).append(message.body)
    return {
        consultation_id
        for consultation_id, parts in texts.items()
        if all(word in "\n".join(parts).casefold() for word in words)
    }


@dataclass(frozen=True)
class _Entry:
    at: datetime
    id: uuid.UUID
    consultation: Consultation | None = None
    appointment: Appointment | None = None

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
    client_ip: str | None = None,
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
    entries: list[_Entry] = []
    if view is access.View.full:
        only = await _matching_consultations(session, patient_id, query) if query else None
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
            entries.append(_Entry(c.created_at, c.id, consultation=c))
    if query is None:
        for a in await scheduling.patient_appointments(
            session,
            patient_id=patient_id,
            doctor_id=doctor_id,
            start=since,
            end=until,
            before=before,
            limit=limit + 1,
        ):
            entries.append(_Entry(a.starts_at, a.id, appointment=a))
    entries.sort(key=lambda e: (e.at, e.id), reverse=True)
    page = entries[:limit]
    next_cursor = cursors.encode(page[-1].at, page[-1].id) if len(entries) > limit else None
    items = await _items(session, page, public_url=public_url, with_history=False)
    await _audit_read(
        session,
        actor,
        "records.history_read",
        "patient",
        patient_id,
        client_ip,
        {"items": len(items), "view": view.value, "searched": query is not None},
    )
    return schemas.HistoryPage(items=items, next_cursor=next_cursor)


async def _items(
    session: AsyncSession, entries: Sequence[_Entry], *, public_url: str, with_history: bool
) -> list[schemas.HistoryItem]:
    consultation_ids = [e.consultation.id for e in entries if e.consultation]
    notes = await _versions(session, consultation_ids)
    prescriptions = await _prescriptions_of(session, consultation_ids, public_url=public_url)
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
    session: AsyncSession, consultation_ids: Sequence[uuid.UUID], *, public_url: str
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
    for described in await describe_prescriptions(session, rows, public_url=public_url):
        found.setdefault(described.consultation_id, []).append(described)
    return found


# --- exports ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """Everything of one patient's record, for the PDF and the FHIR bundle."""

    patient: User
    doctors: list[User]
    items: list[schemas.HistoryItem]
    messages: list[Message]
    generated_at: datetime


async def export(
    *, session: AsyncSession, actor: Actor, patient_id: uuid.UUID, public_url: str, form: str
) -> Record:
    """The whole record, for its patient to take elsewhere; every export is audited."""
    view = await access.record_view(session, actor, patient_id)
    access.require_exporter(actor, patient_id, view)
    entries = [
        _Entry(c.created_at, c.id, consultation=c)
        for c in await consultations.patient_consultations(
            session, patient_id=patient_id, limit=EXPORT_LIMIT
        )
    ] + [
        _Entry(a.starts_at, a.id, appointment=a)
        for a in await scheduling.patient_appointments(
            session, patient_id=patient_id, limit=EXPORT_LIMIT
        )
    ]
    entries.sort(key=lambda e: (e.at, e.id), reverse=True)
    items = await _items(session, entries, public_url=public_url, with_history=False)
    people = await identity.users(session, {patient_id} | {item.doctor_id for item in items})
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
        messages=await consultations.patient_messages(session, patient_id=patient_id),
        generated_at=clock.now(),
    )
