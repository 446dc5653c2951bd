"""Each person's channels per type, within what the clinic runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.notifications import schemas
from clinicflow.notifications.models import Preference
from clinicflow.notifications.schemas import Channel, Kind
from clinicflow.notifications.service.channel_choice import (
    allowed_channels,
    effective_channels,
    recipient_of,
)
from clinicflow.notifications.templates import ALL_CHANNELS, TEMPLATES


@dataclass
class Preferences:
    allowed: list[Channel]
    available: list[Channel]
    types: list[schemas.TypePreferenceOut] = field(default_factory=list)


async def preferences(*, session: AsyncSession, actor: Actor) -> Preferences:
    recipient = await recipient_of(session, actor.id)
    available = list(recipient.addresses) if recipient else [Channel.in_app]
    switched_on = await allowed_channels(session)
    allowed = [channel for channel in ALL_CHANNELS if channel in switched_on]
    chosen = {
        row.kind: row.channels
        for row in await session.scalars(select(Preference).where(Preference.user_id == actor.id))
    }
    result = Preferences(allowed=allowed, available=[c for c in ALL_CHANNELS if c in available])
    for kind, template in TEMPLATES.items():
        channels = effective_channels(
            kind, chosen=chosen.get(kind), allowed=allowed, available=ALL_CHANNELS
        )
        result.types.append(
            schemas.TypePreferenceOut(
                type=kind,
                priority=template.priority,
                channels=channels,
                defaults=[c for c in template.defaults if c in allowed],
                chosen=kind in chosen,
            )
        )
    return result


async def set_preferences(
    *, session: AsyncSession, actor: Actor, choices: Mapping[Kind, Sequence[Channel]]
) -> Preferences:
    """Store each type's channels; a channel the clinic has switched off is refused rather
    than silently dropped, so a person never believes they chose something they did not."""
    allowed = await allowed_channels(session)
    refused = sorted({c.value for chosen in choices.values() for c in chosen if c not in allowed})
    if refused:
        raise AppError(
            ErrorCode.channel_not_allowed,
            _("The clinic does not send notifications by: {channels}.").format(
                channels=", ".join(refused)
            ),
            {"channels": refused},
        )
    for kind, chosen in choices.items():
        row = await session.get(Preference, (actor.id, kind))
        values = [c.value for c in ALL_CHANNELS if c in set(chosen)]
        if row is None:
            session.add(Preference(user_id=actor.id, kind=kind, channels=values))
        else:
            row.channels = values
    await session.flush()
    return await preferences(session=session, actor=actor)
