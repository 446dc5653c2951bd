"""HTTP routes of notifications: thin translations between JSON and the service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from clinicflow.deps import CurrentUser, RuntimeDep, Session, SettingsDep, throttled
from clinicflow.notifications import schemas
from clinicflow.notifications import service as notifications
from clinicflow.notifications.schemas import Channel, DeliveryStatus, Kind
from clinicflow.routing import TransactionalRoute

router = APIRouter(prefix="/api", route_class=TransactionalRoute, tags=["notifications"])


@router.get("/notifications")
async def list_notifications(
    session: Session,
    user: CurrentUser,
    unread: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = notifications.LIST_LIMIT,
) -> schemas.NotificationListOut:
    rows, unread_count = await notifications.list_for(
        session=session, actor=user, unread=unread, limit=limit
    )
    return schemas.NotificationListOut(
        items=[schemas.NotificationOut.model_validate(row) for row in rows],
        unread_count=unread_count,
    )


@router.post("/notifications/read-all")
async def read_all(session: Session, user: CurrentUser) -> schemas.ReadAllOut:
    marked = await notifications.mark_all_read(session=session, actor=user)
    return schemas.ReadAllOut(marked=marked, unread_count=0)


@router.post("/notifications/{notification_id}/read")
async def read_one(
    notification_id: uuid.UUID, session: Session, user: CurrentUser
) -> schemas.NotificationOut:
    row, _unread = await notifications.mark_read(
        session=session, actor=user, notification_id=notification_id
    )
    return schemas.NotificationOut.model_validate(row)


def _preferences_out(found: notifications.Preferences) -> schemas.PreferencesOut:
    return schemas.PreferencesOut(
        allowed_channels=found.allowed, available_channels=found.available, types=found.types
    )


@router.get("/me/notification-preferences")
async def get_preferences(session: Session, user: CurrentUser) -> schemas.PreferencesOut:
    return _preferences_out(await notifications.preferences(session=session, actor=user))


@router.put("/me/notification-preferences")
async def put_preferences(
    body: schemas.PreferencesIn, session: Session, user: CurrentUser
) -> schemas.PreferencesOut:
    found = await notifications.set_preferences(session=session, actor=user, choices=body.types)
    return _preferences_out(found)


@router.get("/push/config")
async def push_config(session: Session, settings: SettingsDep) -> schemas.PushConfigOut:
    """The VAPID public key a browser subscribes with; null while push is not set up or
    the clinic has switched it off."""
    enabled = Channel.push in await notifications.allowed_channels(session)
    return schemas.PushConfigOut(public_key=settings.vapid_public_key if enabled else None)


@router.post(
    "/push/subscriptions",
    status_code=status.HTTP_201_CREATED,
    dependencies=[throttled("push_subscriptions")],
)
async def add_push_subscription(
    body: schemas.PushSubscriptionIn,
    session: Session,
    user: CurrentUser,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> schemas.PushSubscriptionOut:
    row = await notifications.add_push_subscription(
        session=session,
        actor=user,
        endpoint=body.endpoint,
        p256dh=body.keys.p256dh,
        auth=body.keys.auth,
        allowed_hosts=settings.push_service_hosts,
        resolver=runtime.resolver,
    )
    return schemas.PushSubscriptionOut(id=row.id, endpoint=row.endpoint)


@router.get("/admin/deliveries")
async def list_deliveries(
    session: Session,
    user: CurrentUser,
    status: DeliveryStatus | None = None,
    channel: Channel | None = None,
    type: Kind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[schemas.DeliveryOut]:
    return await notifications.deliveries(
        session=session, actor=user, status=status, channel=channel, kind=type, limit=limit
    )


@router.post("/admin/deliveries/retry-failed")
async def retry_failed_deliveries(
    matching: schemas.RetryFilter, session: Session, user: CurrentUser
) -> schemas.RetriedOut:
    """Every failed or given-up delivery matching the filter, due again now."""
    retried = await notifications.retry_failed(session=session, actor=user, matching=matching)
    return schemas.RetriedOut(retried=retried)


@router.get("/admin/deliveries/{delivery_id}/attempts")
async def list_delivery_attempts(
    delivery_id: uuid.UUID, session: Session, user: CurrentUser
) -> list[schemas.AttemptOut]:
    """The delivery's failed attempts, newest first, with what the provider answered."""
    return await notifications.delivery_attempts(
        session=session, actor=user, delivery_id=delivery_id
    )


@router.post("/admin/deliveries/{delivery_id}/retry")
async def retry_delivery(
    delivery_id: uuid.UUID, session: Session, user: CurrentUser
) -> schemas.DeliveryOut:
    return await notifications.retry_now(session=session, actor=user, delivery_id=delivery_id)
