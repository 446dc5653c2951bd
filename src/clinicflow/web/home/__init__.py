"""Each role's home page (`/home`): what that person needs first, today, kept live.

One module per role (`doctor`, `patient`, `receptionist`, `admin`) reads its figures from
the read verbs of the domains that own them and answers a template context; this router
draws `home/<role>.html` whole, or its live block `home_live` alone
(`/home?block=home_live`) when `static/js/home.js` hears a change on one of the topics the
page names, or on its polling clock for the figures no topic announces.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic.schemas import ClinicProfile
from clinicflow.config import Settings
from clinicflow.deps import Clinic, PageViewer, Session, SettingsDep, Viewer
from clinicflow.identity.schemas import Role
from clinicflow.routing import TransactionalRoute
from clinicflow.web.home import admin, doctor, patient, receptionist
from clinicflow.web.home.page import HomeRequest
from clinicflow.web.templating import render, render_block

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

Context = Callable[[HomeRequest], Awaitable[dict[str, Any]]]

CONTEXTS: dict[Role, Context] = {
    Role.doctor: doctor.context,
    Role.patient: patient.context,
    Role.receptionist: receptionist.context,
    Role.admin: admin.context,
}


async def home_context(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    clinic: ClinicProfile,
    user: Viewer,
    notice: str | None = None,
) -> dict[str, Any]:
    """The role's figures, with what every home page shows (the notice after a change)."""
    home = HomeRequest(
        request=request, session=session, settings=settings, clinic=clinic, viewer=user
    )
    return {**await CONTEXTS[user.role](home), "notice": notice}


@router.get("/home")
async def home(
    request: Request,
    session: Session,
    settings: SettingsDep,
    clinic: Clinic,
    user: PageViewer,
    block: Annotated[Literal["home_live"] | None, Query()] = None,
    done: Annotated[Literal["rescheduled"] | None, Query()] = None,
) -> Response:
    template = f"home/{user.role.value}.html"
    notice = patient.notice(done)
    context = await home_context(request, session, settings, clinic, user, notice)
    if block is not None:
        return render_block(request, template, block, context)
    return render(request, template, context)
