"""Notification pages: the list behind the bell, channel preferences, the admin's delivery
log, the service worker for Web Push, and the development outbox.

Every rule is the notification service's; these routes turn forms into its arguments. The
bell in every page's header and the urgent banner are kept live by
`static/js/notifications.js`, which also has the list page fetch its `notification_items`
block again (`?block=notification_items`) when a notification arrives or is read.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.core.labels import choices
from clinicflow.deps import Clinic, CsrfProtected, PageUser, RuntimeDep, Session
from clinicflow.i18n import gettext as _
from clinicflow.notifications import service as notifications
from clinicflow.notifications.schemas import Channel, DeliveryStatus, Kind, RetryFilter
from clinicflow.notifications.templates import ALL_CHANNELS
from clinicflow.routing import TransactionalRoute
from clinicflow.web.templating import refusal_page, render, render_block

# The development outbox: mounted only when CLINICFLOW_ENV=development (404 elsewhere).
router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)
inbox = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


@router.get("/dev/outbox.json")
async def outbox_json(runtime: RuntimeDep) -> list[dict[str, Any]]:
    outbox = runtime.outbox
    return [message.as_json() for message in outbox.messages()] if outbox else []


@router.get("/dev/outbox")
async def outbox_page(request: Request, runtime: RuntimeDep, clinic: Clinic) -> Response:
    """What the app would have sent, newest first, each at the clinic's time (`clinic` puts
    its zone on the page)."""
    messages = runtime.outbox.messages() if runtime.outbox else []
    return render(request, "notifications/outbox.html", {"messages": messages})


APPOINTMENT_KINDS = {
    Kind.booking_confirmed,
    Kind.booking_cancelled,
    Kind.booking_moved,
    Kind.reminder_24h,
    Kind.reminder_1h,
}
CONSULTATION_KINDS = {
    Kind.consult_accepted,
    Kind.consult_declined,
    Kind.consult_ended,
    Kind.chat_message,
}


def target(kind: Kind, consultation_id: uuid.UUID | None) -> str:
    """The page a notification is about, where a tap on it leads."""
    if kind in APPOINTMENT_KINDS:
        return "/appointments"
    if kind in CONSULTATION_KINDS:
        return f"/consultations/{consultation_id}" if consultation_id else "/consultations"
    if kind is Kind.weekly_report:
        return "/analytics"
    return "/queue"


@inbox.get("/notifications")
async def list_page(
    request: Request,
    session: Session,
    user: PageUser,
    block: Literal["notification_items"] | None = None,
) -> Response:
    """The viewer's notifications, each a link to what it is about, times on the clinic's
    clock; with `block`, only that block of the page, which the page fetches and swaps in
    when the bell hears that one arrived or was read."""
    rows, unread = await notifications.list_for(session=session, actor=user, limit=100)
    context = {
        "items": rows,
        "unread": unread,
        "targets": {row.id: target(row.kind, row.consultation_id) for row in rows},
    }
    if block is not None:
        return render_block(request, "notifications/list.html", block, context)
    return render(request, "notifications/list.html", context)


@inbox.post("/notifications/read-all", dependencies=[CsrfProtected])
async def read_all_page(session: Session, user: PageUser) -> Response:
    await notifications.mark_all_read(session=session, actor=user)
    return RedirectResponse("/notifications", status_code=303)


@inbox.post("/notifications/{notification_id}/read", dependencies=[CsrfProtected])
async def read_page(notification_id: uuid.UUID, session: Session, user: PageUser) -> Response:
    await notifications.mark_read(session=session, actor=user, notification_id=notification_id)
    return RedirectResponse("/notifications", status_code=303)


async def _preferences_context(session: Session, user: PageUser) -> dict[str, Any]:
    found = await notifications.preferences(session=session, actor=user)
    return {
        "preferences": found,
        "channels": ALL_CHANNELS,
    }


@inbox.get("/notifications/preferences")
async def preferences_page(request: Request, session: Session, user: PageUser) -> Response:
    context = await _preferences_context(session, user)
    context["saved"] = request.query_params.get("saved") == "1"
    return render(request, "notifications/preferences.html", context)


@inbox.post("/notifications/preferences", dependencies=[CsrfProtected])
async def save_preferences(request: Request, session: Session, user: PageUser) -> Response:
    form = await request.form()
    choices = {
        kind: [
            Channel(v)
            for v in form.getlist(kind.value)
            if isinstance(v, str) and v in Channel.__members__
        ]
        for kind in Kind
    }
    try:
        await notifications.set_preferences(session=session, actor=user, choices=choices)
    except AppError as exc:
        return await refusal_page(
            request,
            session,
            exc,
            "notifications/preferences.html",
            functools.partial(_preferences_context, session, user),
        )
    return RedirectResponse("/notifications/preferences?saved=1", status_code=303)


@inbox.get("/admin/deliveries")
async def deliveries_page(
    request: Request,
    session: Session,
    user: PageUser,
    status: DeliveryStatus | None = None,
    channel: Channel | None = None,
    type: Kind | None = None,
) -> Response:
    rows = await notifications.deliveries(
        session=session, actor=user, status=status, channel=channel, kind=type, limit=200
    )
    attempts = await notifications.attempts_of(
        session=session, actor=user, delivery_ids=[row.id for row in rows]
    )
    filters = {"status": status, "channel": channel, "type": type}
    retried = request.query_params.get("retried", "")
    return render(
        request,
        "notifications/deliveries.html",
        {
            "rows": rows,
            "attempts": attempts,
            "retried": int(retried) if retried.isdigit() else None,
            "failed_shown": sum(
                row.status in (DeliveryStatus.failed, DeliveryStatus.gave_up) for row in rows
            ),
            "can_retry_all": status in (None, DeliveryStatus.failed, DeliveryStatus.gave_up),
            "filters": {name: value.value if value else "" for name, value in filters.items()},
            "query": urlencode({k: v.value for k, v in filters.items() if v}),
            "type_labels": choices(Kind),
            "channel_labels": choices(Channel),
            "status_labels": choices(DeliveryStatus),
        },
    )


@inbox.post("/admin/deliveries/retry-failed", dependencies=[CsrfProtected])
async def retry_failed_page(request: Request, session: Session, user: PageUser) -> Response:
    """The page's "Retry failed", confirmed on the page: the filter it was shown with."""
    form = await request.form()
    fields = {
        name: value
        for name in ("status", "channel", "type")
        if isinstance(value := form.get(name), str) and value
    }
    try:
        matching = RetryFilter.model_validate(fields)
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0])
        raise AppError(
            ErrorCode.validation_error, _("This filter is not valid."), {"field": field}
        ) from None
    retried = await notifications.retry_failed(session=session, actor=user, matching=matching)
    return RedirectResponse(
        "/admin/deliveries?" + urlencode({**fields, "retried": retried}), status_code=303
    )


@inbox.post("/admin/deliveries/{delivery_id}/retry", dependencies=[CsrfProtected])
async def retry_page(
    request: Request, delivery_id: uuid.UUID, session: Session, user: PageUser
) -> Response:
    await notifications.retry_now(session=session, actor=user, delivery_id=delivery_id)
    back = request.query_params.get("back", "")
    return RedirectResponse(f"/admin/deliveries?{back}" if back else "/admin/deliveries", 303)
