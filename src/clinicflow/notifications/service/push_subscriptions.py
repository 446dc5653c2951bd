"""Browsers' Web Push subscriptions (which endpoints may be stored: `push_endpoints`)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.notifications.models import PushSubscription
from clinicflow.notifications.service import push_endpoints


async def add_push_subscription(
    *,
    session: AsyncSession,
    actor: Actor,
    endpoint: str,
    p256dh: str,
    auth: str,
    allowed_hosts: Collection[str],
    resolver: push_endpoints.Resolver,
) -> PushSubscription:
    """Remember a browser's push endpoint; the same endpoint again replaces its keys and
    owner (a shared computer's browser follows whoever signed in last)."""
    try:
        await push_endpoints.check(endpoint, allowed_hosts, resolver)
    except (push_endpoints.EndpointRefused, push_endpoints.LookupFailed) as exc:
        raise AppError(
            ErrorCode.validation_error,
            _("This browser's push service is not supported."),
            {"field": "endpoint"},
        ) from exc
    row = await session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint == endpoint)
    )
    if row is None:
        row = PushSubscription(user_id=actor.id, endpoint=endpoint, p256dh=p256dh, auth=auth)
        session.add(row)
    else:
        row.user_id, row.p256dh, row.auth = actor.id, p256dh, auth
    await session.flush()
    return row
