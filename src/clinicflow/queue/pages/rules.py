"""The queue's section of the clinic's settings page: the rules' weights, with a live preview
of how today's waiting patients would be ordered under the weights being typed.

The section is drawn into `/admin/clinic` by htmx (`clinic/settings.html`), or alone as a
page without a script. Each edit posts the form to `/admin/clinic/queue-rules/preview`,
which orders the waiting patients under the proposal without saving anything; saving goes
through the queue's versioned rules verb. The no-show grace is the clinic's setting and is
edited in the clinic's form above, so this form carries the grace in force unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.deps import CsrfProtected, PageViewer, Session
from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import PatientType
from clinicflow.queue import priority, schemas
from clinicflow.queue import service as queues
from clinicflow.queue.schemas import Severity
from clinicflow.routing import TransactionalRoute
from clinicflow.web.templating import render, render_block

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)
TEMPLATE = "queue/rules.html"
SEVERITIES = (Severity.urgent, Severity.routine)
PATIENT_TYPES = (PatientType.child, PatientType.elderly, PatientType.pregnant, PatientType.disabled)
PLAIN = ("late_appointment_bonus", "aging_weight_per_minute", "check_in_window_minutes")


@dataclass(frozen=True)
class RulesForm:
    """The weights as typed, keyed by the form's field names (`severity.urgent`, ...)."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


def _form_of(rules: priority.Rules) -> RulesForm:
    values = {
        f"severity.{s.value}": _number(rules.severity_weights.get(s.value, 0.0)) for s in SEVERITIES
    }
    values.update(
        {
            f"patient_type.{t.value}": _number(rules.patient_type_weights.get(t.value, 0.0))
            for t in PATIENT_TYPES
        }
    )
    values.update({name: _number(getattr(rules, name)) for name in PLAIN})
    return RulesForm(values)


def _number(value: float) -> str:
    return f"{value:g}"


def _problem(name: str) -> str:
    if name == "check_in_window_minutes":
        return _("Enter whole minutes, from 0 to 720.")
    if name == "aging_weight_per_minute":
        return _("Enter a number from 0 to 100.")
    return _("Enter a number from -1000 to 1000.")


async def _read(request: Request, grace: int) -> tuple[RulesForm, priority.Rules | None]:
    """The form as typed and the rules it proposes (None while a field is not valid)."""
    posted = await request.form()
    names = [
        *(f"severity.{s.value}" for s in SEVERITIES),
        *(f"patient_type.{t.value}" for t in PATIENT_TYPES),
        *PLAIN,
    ]
    values = {name: str(posted.get(name) or "0").strip() for name in names}
    body = {
        "severity_weights": {s.value: values[f"severity.{s.value}"] for s in SEVERITIES},
        "patient_type_weights": {t.value: values[f"patient_type.{t.value}"] for t in PATIENT_TYPES},
        **{name: values[name] for name in PLAIN},
        "no_show_grace_minutes": grace,
    }
    try:
        parsed = schemas.RulesIn.model_validate(body)
    except ValidationError as exc:
        errors = {}
        for error in exc.errors():
            loc = [str(part) for part in error["loc"]]
            name = f"{_kind(loc[0])}.{loc[1]}" if len(loc) > 1 else loc[0]
            errors[name] = _problem(loc[0])
        return RulesForm(values, errors), None
    return RulesForm(values), queues.rules_from(parsed)


def _kind(field_name: str) -> str:
    return {"severity_weights": "severity", "patient_type_weights": "patient_type"}.get(
        field_name, field_name
    )


async def _context(
    session: AsyncSession,
    viewer: Actor,
    form: RulesForm,
    proposed: priority.Rules | None,
    **extra: Any,
) -> dict[str, Any]:
    row, in_force = await queues.rules_for(session=session, actor=viewer)
    preview = await queues.preview_order(session=session, actor=viewer, rules=proposed or in_force)
    return {
        "form": form,
        "errors": form.errors,
        "version": row.version if row else 0,
        "grace": in_force.no_show_grace_minutes,
        "preview": preview,
        "severities": SEVERITIES,
        "patient_types": PATIENT_TYPES,
        **extra,
    }


def _draw(request: Request, context: dict[str, Any], block: str = "rules_section") -> Response:
    if request.headers.get("hx-request"):
        return render_block(request, TEMPLATE, block, context)
    return render(request, TEMPLATE, context)


@router.get("/admin/clinic/queue-rules")
async def rules_section(request: Request, session: Session, viewer: PageViewer) -> Response:
    _row, in_force = await queues.rules_for(session=session, actor=viewer)
    return _draw(request, await _context(session, viewer, _form_of(in_force), None))


@router.post("/admin/clinic/queue-rules/preview", dependencies=[CsrfProtected])
async def preview(request: Request, session: Session, viewer: PageViewer) -> Response:
    """The preview block alone, under the weights as typed (the rules in force while a
    field is not a number, with the field's problem shown)."""
    _row, in_force = await queues.rules_for(session=session, actor=viewer)
    form, proposed = await _read(request, in_force.no_show_grace_minutes)
    context = await _context(session, viewer, form, proposed)
    return render_block(request, TEMPLATE, "rules_preview", context)


@router.post("/admin/clinic/queue-rules", dependencies=[CsrfProtected])
async def save(request: Request, session: Session, viewer: PageViewer) -> Response:
    _row, in_force = await queues.rules_for(session=session, actor=viewer)
    form, proposed = await _read(request, in_force.no_show_grace_minutes)
    if proposed is None:
        context = await _context(session, viewer, form, None)
        response = _draw(request, context)
        if not request.headers.get("hx-request"):
            # htmx swaps only a success; the section carries its problems either way.
            response.status_code = 422
        return response
    await queues.set_rules(session=session, actor=viewer, rules=proposed)
    if not request.headers.get("hx-request"):
        return RedirectResponse("/admin/clinic?saved=rules", status_code=303)
    context = await _context(session, viewer, _form_of(proposed), None, saved=True)
    return _draw(request, context)
