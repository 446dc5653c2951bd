"""The clinic's settings over JSON: `GET|PUT /api/admin/clinic` and the logo."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile

from clinicflow.clinic import schemas
from clinicflow.clinic import service as clinic
from clinicflow.clinic.service import LOGO_MAX_BYTES
from clinicflow.deps import CurrentUser, Session, SettingsDep
from clinicflow.routing import TransactionalRoute

router = APIRouter(prefix="/api", route_class=TransactionalRoute, tags=["clinic"])


@router.get("/admin/clinic")
async def get_clinic(session: Session, user: CurrentUser) -> schemas.ClinicOut:
    """The clinic's settings now (`version` 0: the environment's, never saved)."""
    return schemas.ClinicOut.of(await clinic.read(session=session, actor=user))


@router.put("/admin/clinic")
async def put_clinic(
    body: schemas.ClinicChanges, session: Session, user: CurrentUser
) -> schemas.ClinicOut:
    """Change the settings. The body may hold every field or only those that change; a
    field left out keeps its value. A save that changes nothing makes no new version."""
    profile = await clinic.update(
        session=session, actor=user, changes=body.model_dump(exclude_unset=True)
    )
    return schemas.ClinicOut.of(profile)


@router.put("/admin/clinic/logo")
async def put_logo(
    file: Annotated[UploadFile, File(description="PNG, JPEG or WebP, at most 200 KB")],
    session: Session,
    settings: SettingsDep,
    user: CurrentUser,
) -> schemas.ClinicOut:
    """A new logo, as the multipart field `file`; its type is read from its bytes."""
    data = await file.read(LOGO_MAX_BYTES + 1)
    profile = await clinic.set_logo(
        session=session, actor=user, var_dir=settings.var_dir, data=data
    )
    return schemas.ClinicOut.of(profile)
