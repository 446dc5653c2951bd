"""The LiveKit adapter: when `LIVEKIT_URL` (with its key and secret) is set, calls meet in a
LiveKit room instead of peer to peer. The ringing, answering and the record stay ours (the
socket's `call` frames); only the media goes through the room.

Each call has its own room, named after the call, and each participant gets a token minted
here with `livekit-api`: their user id as identity, allowed to join that one room only
(publish and subscribe, no data channel, no room administration), valid `livekit_token_seconds`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from livekit import api

from clinicflow.config import Settings

ROOM_PREFIX = "clinicflow-call-"


def enabled(settings: Settings) -> bool:
    return bool(settings.livekit_url and settings.livekit_api_key and settings.livekit_api_secret)


def room_name(call_id: uuid.UUID) -> str:
    """One room per call, so a call's media never mixes with another's."""
    return f"{ROOM_PREFIX}{call_id}"


def mint_token(*, settings: Settings, call_id: uuid.UUID, user_id: uuid.UUID, name: str) -> str:
    """A join token for one participant of one call's room."""
    if not (settings.livekit_api_key and settings.livekit_api_secret):
        raise RuntimeError("LiveKit is not configured")
    grants = api.VideoGrants(
        room_join=True,
        room=room_name(call_id),
        can_publish=True,
        can_subscribe=True,
        can_publish_data=False,
    )
    return (
        api.AccessToken(settings.livekit_api_key, settings.livekit_api_secret)
        .with_identity(str(user_id))
        .with_name(name)
        .with_grants(grants)
        .with_ttl(timedelta(seconds=settings.livekit_token_seconds))
        .to_jwt()
    )
