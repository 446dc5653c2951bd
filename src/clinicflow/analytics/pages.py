"""The analytics page: the range form, charts (uPlot) and, under each, its table and CSV.

The page reads the same `summary_for` as the API, so its tables, its charts and the CSV
links show the same numbers. Who sees what is `analytics.access`'s decision.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from clinicflow.analytics import service as analytics
from clinicflow.deps import Clinic, PageUser, Session
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.notifications.schemas import Channel
from clinicflow.routing import TransactionalRoute
from clinicflow.web.templating import render

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


@router.get("/analytics")
async def analytics_page(
    request: Request,
    session: Session,
    user: PageUser,
    clinic: Clinic,
    first: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
    doctor_id: Annotated[uuid.UUID | None, Query()] = None,
    bucket: analytics.Bucket = analytics.Bucket.day,
) -> Response:
    summary = await analytics.summary_for(
        session=session,
        actor=user,
        clinic=clinic,
        first=first,
        last=to,
        bucket=bucket,
        doctor_id=doctor_id,
    )
    doctors = await identity.search_doctors(session) if user.role is Role.admin else []
    query = {
        "from": summary.from_.isoformat(),
        "to": summary.to.isoformat(),
        "bucket": bucket.value,
    }
    if doctor_id is not None:
        query["doctor_id"] = str(doctor_id)
    return render(
        request,
        "analytics/summary.html",
        {
            "summary": summary,
            "doctors": [(str(d.id), d.name) for d in doctors],
            "chosen": str(doctor_id or ""),
            "bucket": bucket.value,
            "query": urlencode(query),
            "zone": clinic.timezone,
            "channel_labels": {channel.value: channel.label for channel in Channel},
            "chart_data": {
                "buckets": [b.model_dump(mode="json") for b in summary.by_bucket],
            },
        },
    )
