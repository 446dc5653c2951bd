"""Which channels one notification goes to: what the clinic runs, what the person has,
and what they chose for its type."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic import service as clinic
from clinicflow.config import Settings
from clinicflow.identity import service as identity
from clinicflow.notifications.models import PushSubscription
from clinicflow.notifications.schemas import Channel, Kind, Priority
from clinicflow.notifications.templates import ALL_CHANNELS, TEMPLATES

ALLOWED_KEY = "clinicflow.notifications.allowed"


def clinic_channels(settings: Settings) -> frozenset[Channel]:
    """The channels this process can send on: every one, less push without its keys (a
    browser could not be reached, so nobody may choose it). Which of them the clinic has
    switched on is its setting (`allowed_channels`)."""
    channels = set(Channel)
    if not (settings.vapid_private_key and settings.vapid_public_key):
        channels.discard(Channel.push)
    return frozenset(channels)


async def allowed_channels(session: AsyncSession) -> frozenset[Channel]:
    """The channels the clinic sends on: those its settings switch on that the process can
    reach; in-app always."""
    reachable: frozenset[Channel] = session.info.get(ALLOWED_KEY, frozenset(ALL_CHANNELS))
    chosen = (await clinic.current(session=session)).notification_channels
    switched_on = {Channel(value) for value in chosen if value in Channel.__members__}
    return frozenset(switched_on & reachable) | {Channel.in_app}


@dataclass(frozen=True)
class Recipient:
    id: uuid.UUID
    language: str
    addresses: Mapping[Channel, str | None]


async def recipient_of(session: AsyncSession, user_id: uuid.UUID) -> Recipient | None:
    found = await identity.users(session, [user_id])
    if not found or not found[0].is_active:
        return None
    user = found[0]
    # A patient chose a language; staff are written to in the clinic's.
    language = (
        user.patient.preferred_language.value
        if user.patient
        else (await clinic.current(session=session)).default_language
    )
    has_push = await session.scalar(
        select(func.count())
        .select_from(PushSubscription)
        .where(PushSubscription.user_id == user.id)
    )
    addresses: dict[Channel, str | None] = {Channel.in_app: None}
    if user.phone:
        addresses[Channel.sms] = user.phone
    if user.email:
        addresses[Channel.email] = user.email
    if has_push:
        addresses[Channel.push] = None
    return Recipient(id=user.id, language=language, addresses=addresses)


def effective_channels(
    kind: Kind,
    *,
    chosen: Sequence[str] | None,
    allowed: Iterable[Channel],
    available: Iterable[Channel],
) -> list[Channel]:
    """Where one notification goes: the person's choice (or the type's defaults) within what
    the clinic allows and what the person has; an urgent type goes everywhere they have."""
    template = TEMPLATES[kind]
    possible = set(allowed) & set(available)
    if template.priority is Priority.urgent:
        wanted: Iterable[Channel] = ALL_CHANNELS
    elif chosen is not None:
        wanted = [Channel(value) for value in chosen if value in Channel.__members__]
    else:
        wanted = template.defaults
    return [channel for channel in ALL_CHANNELS if channel in possible and channel in wanted]
