"""Browsers' Web Push subscriptions, and which push services the worker may post to."""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.notifications.models import PushSubscription

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def push_service_allowed(endpoint: str, hosts: Collection[str]) -> bool:
    """Whether the worker may post to this endpoint: https to a listed push service (or a
    subdomain of a listed `.suffix`), or a listed loopback host."""
    try:
        url = urlsplit(endpoint)
    except ValueError:  # not an address at all, such as an unclosed IPv6 "["
        return False
    host = (url.hostname or "").lower()
    listed = any(
        host.endswith(entry.lower()) if entry.startswith(".") else host == entry.lower()
        for entry in hosts
    )
    return listed and (url.scheme == "https" or host in LOOPBACK_HOSTS)


async def add_push_subscription(
    *,
    session: AsyncSession,
    actor: Actor,
    endpoint: str,
    p256dh: str,
    auth: str,
    allowed_hosts: Collection[str],
) -> PushSubscription:
    """Remember a browser's push endpoint; the same endpoint again replaces its keys and
    owner (a shared computer's browser follows whoever signed in last)."""
    if not push_service_allowed(endpoint, allowed_hosts):
        raise AppError(
            ErrorCode.validation_error,
            _("This browser's push service is not supported."),
            {"field": "endpoint"},
        )
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
