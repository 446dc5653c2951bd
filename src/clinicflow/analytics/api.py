"""HTTP routes of analytics (thin: the service decides, access decides who)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from clinicflow.analytics import service as analytics
from clinicflow.analytics.schemas import Summary
from clinicflow.deps import Clinic, CurrentUser, Session
from clinicflow.routing import TransactionalRoute

router = APIRouter(prefix="/api/analytics", route_class=TransactionalRoute, tags=["analytics"])

From = Annotated[date | None, Query(alias="from", description="First clinic date (inclusive)")]
To = Annotated[date | None, Query(description="Last clinic date (inclusive)")]
DoctorId = Annotated[uuid.UUID | None, Query()]
BucketQuery = Annotated[analytics.Bucket, Query()]
Section = Annotated[
    Literal[
        "summary",
        "wait_minutes",
        "service_minutes",
        "by_type",
        "by_bucket",
        "by_doctor",
        "heatmap",
        "notifications",
    ]
    | None,
    Query(description="Only this part of the CSV"),
]


@router.get("/summary", response_model=Summary)
async def summary(
    session: Session,
    user: CurrentUser,
    clinic: Clinic,
    first: From = None,
    to: To = None,
    doctor_id: DoctorId = None,
    bucket: BucketQuery = analytics.Bucket.day,
) -> Summary:
    return await analytics.summary_for(
        session=session,
        actor=user,
        clinic=clinic,
        first=first,
        last=to,
        bucket=bucket,
        doctor_id=doctor_id,
    )


@router.get("/summary.csv", response_class=Response)
async def summary_csv(
    session: Session,
    user: CurrentUser,
    clinic: Clinic,
    first: From = None,
    to: To = None,
    doctor_id: DoctorId = None,
    bucket: BucketQuery = analytics.Bucket.day,
    section: Section = None,
) -> Response:
    figures = await analytics.summary_for(
        session=session,
        actor=user,
        clinic=clinic,
        first=first,
        last=to,
        bucket=bucket,
        doctor_id=doctor_id,
    )
    name = f"analytics-{figures.from_.isoformat()}-{figures.to.isoformat()}.csv"
    return Response(
        analytics.to_csv(figures, section),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
