"""A patient's clinical lists: allergies, conditions and current medications.

Doctors who may read the record keep them; every change writes a new version (the earlier
ones are kept, never changed) and an audit row that names the line, its version and status,
never its clinical values. Removing a line marks it `entered_in_error`: it leaves the lists,
its versions stay. The values are stored encrypted (`ClinicalItem.content`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.core import audit, clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import not_found
from clinicflow.identity import service as identity
from clinicflow.records import access, schemas
from clinicflow.records.models import ClinicalItem, ClinicalItemVersion
from clinicflow.records.service.read_audit import audit_read

Kind = schemas.Kind
Status = schemas.ItemStatus
OUT: dict[Kind, type[schemas.ItemOut]] = {
    Kind.allergy: schemas.AllergyOut,
    Kind.condition: schemas.ConditionOut,
    Kind.medication: schemas.MedicationEntryOut,
}
ENTRY_IN: dict[Kind, type[BaseModel]] = {
    Kind.allergy: schemas.AllergyIn,
    Kind.condition: schemas.ConditionIn,
    Kind.medication: schemas.MedicationEntryIn,
}
# The words of the audit actions: `records.allergy_recorded`, `records.conditions_read`, …
PLURAL = {Kind.allergy: "allergies", Kind.condition: "conditions", Kind.medication: "medications"}


def _values(model: BaseModel) -> tuple[dict[str, Any], Status | None]:
    """A request's clinical values (JSON-ready) and the status it asks for, apart."""
    sent = model.model_dump(mode="json", exclude_unset=True)
    status = sent.pop("status", None)
    return sent, Status(status) if status is not None else None


def _out(
    row: ClinicalItem,
    names: dict[uuid.UUID, str],
    versions: Sequence[ClinicalItemVersion] | None = None,
) -> schemas.ItemOut:
    kind = Kind(row.kind)
    return OUT[kind].model_validate(
        {
            **json.loads(row.content),
            "id": row.id,
            "patient_id": row.patient_id,
            "kind": kind,
            "status": row.status,
            "version": row.version,
            "recorded_by": row.recorded_by,
            "recorded_by_name": names.get(row.recorded_by, ""),
            "recorded_at": row.recorded_at,
            "updated_at": row.updated_at,
            "versions": None
            if versions is None
            else [
                schemas.ItemVersionOut(
                    version=v.version,
                    status=Status(v.status),
                    values=json.loads(v.content),
                    author_id=v.author_id,
                    created_at=v.created_at,
                )
                for v in versions
            ],
        }
    )


async def _audit_change(
    session: AsyncSession, actor: Actor, row: ClinicalItem, verb: str, fields: Iterable[str]
) -> None:
    await audit.record(
        session,
        action=f"records.{row.kind}_{verb}",
        resource_type=row.kind,
        resource_id=row.id,
        actor=actor,
        details={
            "patient_id": str(row.patient_id),
            "version": row.version,
            "status": row.status,
            "fields": sorted(fields),
        },
    )


def _add_version(session: AsyncSession, row: ClinicalItem, actor: Actor) -> None:
    session.add(
        ClinicalItemVersion(
            id=uuid.uuid4(),
            item_id=row.id,
            version=row.version,
            status=row.status,
            content=row.content,
            author_id=actor.id,
            created_at=row.updated_at,
        )
    )


async def record_item(
    *,
    session: AsyncSession,
    actor: Actor,
    patient_id: uuid.UUID,
    kind: Kind,
    entry: BaseModel,
) -> schemas.ItemOut:
    """Add a line to one of the patient's lists (version 1)."""
    await access.require_list_keeper(session, actor, patient_id)
    values, status = _values(entry)
    now = clock.now()
    row = ClinicalItem(
        id=uuid.uuid4(),
        patient_id=patient_id,
        kind=kind.value,
        status=(status or Status.active).value,
        content=json.dumps(_complete(kind, values)),
        version=1,
        recorded_by=actor.id,
        recorded_at=now,
        updated_by=actor.id,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    _add_version(session, row, actor)
    await session.flush()
    await _audit_change(session, actor, row, "recorded", values.keys())
    return _out(row, await identity.names(session, [actor.id]))


def _complete(kind: Kind, values: dict[str, Any]) -> dict[str, Any]:
    """Every field of the kind, the defaults for those not sent."""
    model = ENTRY_IN[kind]
    complete: dict[str, Any] = model.model_validate(values).model_dump(
        mode="json", exclude={"status"}
    )
    return complete


async def _item_to_change(
    session: AsyncSession, actor: Actor, item_id: uuid.UUID, kind: Kind
) -> ClinicalItem:
    """The line, locked, for a doctor who keeps the patient's lists; a removed line, one of
    another kind and one the actor may not see are all not found."""
    row = await session.scalar(
        select(ClinicalItem).where(ClinicalItem.id == item_id).with_for_update()
    )
    if row is None or row.kind != kind.value or row.status == Status.entered_in_error:
        raise not_found()
    await access.require_list_keeper(session, actor, row.patient_id)
    return row


async def change_item(
    *,
    session: AsyncSession,
    actor: Actor,
    item_id: uuid.UUID,
    kind: Kind,
    change: BaseModel,
) -> schemas.ItemOut:
    """Change a line's values or status: a new version, unless nothing changed."""
    row = await _item_to_change(session, actor, item_id, kind)
    sent, status = _values(change)
    current = json.loads(row.content)
    changed = {k for k, v in sent.items() if current.get(k) != v}
    if status is not None and status.value != row.status:
        changed.add("status")
    if changed:
        current.update(sent)
        await _new_version(session, actor, row, current, status or Status(row.status))
        await _audit_change(session, actor, row, "changed", changed)
    return _out(row, await identity.names(session, [row.recorded_by]))


async def _new_version(
    session: AsyncSession,
    actor: Actor,
    row: ClinicalItem,
    values: dict[str, Any],
    status: Status,
) -> None:
    row.content = json.dumps(_complete(Kind(row.kind), values))
    row.status = status.value
    row.version += 1
    row.updated_by = actor.id
    row.updated_at = clock.now()
    await session.flush()
    _add_version(session, row, actor)
    await session.flush()


async def remove_item(
    *, session: AsyncSession, actor: Actor, item_id: uuid.UUID, kind: Kind
) -> schemas.ItemOut:
    """Mark a line entered in error: it leaves the lists, its versions are kept."""
    row = await _item_to_change(session, actor, item_id, kind)
    await _new_version(session, actor, row, json.loads(row.content), Status.entered_in_error)
    await _audit_change(session, actor, row, "removed", ["status"])
    return _out(row, await identity.names(session, [row.recorded_by]))


async def _rows(
    session: AsyncSession, patient_id: uuid.UUID, kinds: Sequence[Kind]
) -> list[ClinicalItem]:
    return list(
        await session.scalars(
            select(ClinicalItem)
            .where(
                ClinicalItem.patient_id == patient_id,
                ClinicalItem.kind.in_([k.value for k in kinds]),
                ClinicalItem.status != Status.entered_in_error.value,
            )
            .order_by(ClinicalItem.recorded_at, ClinicalItem.id)
        )
    )


async def list_items(
    *, session: AsyncSession, actor: Actor, patient_id: uuid.UUID, kind: Kind
) -> list[schemas.ItemOut]:
    """One of the patient's lists, oldest line first, for whoever reads the record."""
    await access.require_clinical_reader(session, actor, patient_id)
    rows = await _rows(session, patient_id, [kind])
    await audit_read(
        session, actor, f"records.{PLURAL[kind]}_read", "patient", patient_id, {"items": len(rows)}
    )
    names = await identity.names(session, {r.recorded_by for r in rows})
    return [_out(row, names) for row in rows]


async def item_versions(
    *, session: AsyncSession, actor: Actor, item_id: uuid.UUID, kind: Kind
) -> schemas.ItemOut:
    """A line with every version it had, oldest first (removed lines included)."""
    row = await session.get(ClinicalItem, item_id)
    if row is None or row.kind != kind.value:
        raise not_found()
    await access.require_clinical_reader(session, actor, row.patient_id)
    await audit_read(session, actor, f"records.{kind.value}_read", kind.value, row.id)
    versions = list(
        await session.scalars(
            select(ClinicalItemVersion)
            .where(ClinicalItemVersion.item_id == row.id)
            .order_by(ClinicalItemVersion.version)
        )
    )
    return _out(row, await identity.names(session, [row.recorded_by]), versions)


async def active_lists(
    session: AsyncSession, patient_id: uuid.UUID
) -> tuple[list[schemas.AllergyOut], list[schemas.ConditionOut], list[schemas.MedicationEntryOut]]:
    """The active allergies, conditions and medications, with no access check or audit:
    for the verbs of this domain that have already made both (the summary, the prescribing
    checks)."""
    rows = [r for r in await _rows(session, patient_id, list(Kind)) if r.status == Status.active]
    names = await identity.names(session, {r.recorded_by for r in rows})
    described = [_out(row, names) for row in rows]
    return (
        [d for d in described if isinstance(d, schemas.AllergyOut)],
        [d for d in described if isinstance(d, schemas.ConditionOut)],
        [d for d in described if isinstance(d, schemas.MedicationEntryOut)],
    )


async def clinical_summary(
    *, session: AsyncSession, actor: Actor, patient_id: uuid.UUID
) -> schemas.ClinicalSummary:
    """What is always in view of the patient's doctor: active allergies, conditions and
    medications, and the last visit (the latest consultation that ended)."""
    await access.require_clinical_reader(session, actor, patient_id)
    await audit_read(session, actor, "records.summary_read", "patient", patient_id)
    allergies, conditions, medications = await active_lists(session, patient_id)
    visits = await consultations.patient_consultations(session, patient_id=patient_id, limit=50)
    ended = [v.created_at for v in visits if v.status == ConsultationStatus.ended]
    return schemas.ClinicalSummary(
        patient_id=patient_id,
        allergies=allergies,
        conditions=conditions,
        medications=medications,
        last_visit=max(ended) if ended else None,
    )
