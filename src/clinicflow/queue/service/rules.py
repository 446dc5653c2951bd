"""The clinic's queue rules: versioned rows, read by ordering, check-in and the grace period.

The no-show grace is the clinic's setting (one source of truth, docs/clinic.md): the rules
read it from `clinic.current`, and a change of it through these rules is saved there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic import service as clinic
from clinicflow.core import audit, clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.queue import access, priority, schemas
from clinicflow.queue.models import QueueRules
from clinicflow.queue.service.refusals import conflict

# The rules' field the clinic owns.
GRACE = "no_show_grace_minutes"


async def current_rules(session: AsyncSession) -> tuple[QueueRules | None, priority.Rules]:
    """The newest version of the clinic's rules (None and the defaults before any change)."""
    row = await session.scalar(select(QueueRules).order_by(QueueRules.version.desc()).limit(1))
    grace = (await clinic.current(session=session)).no_show_grace_minutes
    if row is None:
        return None, priority.Rules(no_show_grace_minutes=grace)
    return row, priority.Rules(**{**row.values, GRACE: grace})


async def set_rules(
    *,
    session: AsyncSession,
    actor: Actor,
    rules: priority.Rules,
) -> QueueRules:
    """Store a new version; the old ones stay, and the change is audited with both."""
    access.require_rules_editor(actor)
    previous, before = await current_rules(session)
    if rules.no_show_grace_minutes != before.no_show_grace_minutes:
        await clinic.update(
            session=session, actor=actor, changes={GRACE: rules.no_show_grace_minutes}
        )
    row = QueueRules(
        version=(previous.version if previous else 0) + 1,
        values={k: v for k, v in rules_values(rules).items() if k != GRACE},
        created_at=clock.now(),
        created_by_id=actor.id,
    )
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise conflict(
            ErrorCode.rules_changed, _("The rules were changed meanwhile. Load them and try again.")
        ) from None
    await audit.record(
        session,
        action="queue.rules_changed",
        resource_type="queue_rules",
        resource_id=row.version,
        actor=actor,
        details={"before": rules_values(before), "after": row.values},
    )
    return row


def rules_values(rules: priority.Rules) -> dict[str, Any]:
    return {
        "severity_weights": dict(rules.severity_weights),
        "patient_type_weights": dict(rules.patient_type_weights),
        "late_appointment_bonus": rules.late_appointment_bonus,
        "aging_weight_per_minute": rules.aging_weight_per_minute,
        "no_show_grace_minutes": rules.no_show_grace_minutes,
        "check_in_window_minutes": rules.check_in_window_minutes,
    }


def rules_from(body: schemas.RulesIn, *, grace: int | None = None) -> priority.Rules:
    """Weights not named keep their default (nothing), so a partial body is complete; the
    no-show grace, when the body leaves it out, stays `grace` (the clinic's, when given)."""
    defaults = priority.Rules()
    if GRACE not in body.model_fields_set and grace is not None:
        body = body.model_copy(update={GRACE: grace})
    return priority.Rules(
        severity_weights={
            **defaults.severity_weights,
            **{k.value: v for k, v in body.severity_weights.items()},
        },
        patient_type_weights={
            **defaults.patient_type_weights,
            **{k.value: v for k, v in body.patient_type_weights.items()},
        },
        late_appointment_bonus=body.late_appointment_bonus,
        aging_weight_per_minute=body.aging_weight_per_minute,
        no_show_grace_minutes=body.no_show_grace_minutes,
        check_in_window_minutes=body.check_in_window_minutes,
    )


async def rules_for(
    *, session: AsyncSession, actor: Actor
) -> tuple[QueueRules | None, priority.Rules]:
    access.require_rules_reader(actor)
    return await current_rules(session)
