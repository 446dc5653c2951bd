"""HTTP routes of calls: the history of a consultation's calls and the ICE servers."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from clinicflow.calls import schemas
from clinicflow.calls import service as calls
from clinicflow.deps import CurrentUser, Reader, Session, SettingsDep
from clinicflow.routing import TransactionalRoute

router = APIRouter(prefix="/api", route_class=TransactionalRoute, tags=["calls"])


@router.get("/consultations/{consultation_id}/calls")
async def call_history(
    consultation_id: uuid.UUID, session: Session, user: Reader
) -> list[schemas.CallOut]:
    """The consultation's calls, oldest first: who started each, when it was answered and
    ended, and how long it lasted."""
    return await calls.history(session=session, actor=user, consultation_id=consultation_id)


@router.get("/calls/ice-servers")
async def ice_servers(user: CurrentUser, settings: SettingsDep) -> schemas.IceServers:
    """The STUN and TURN servers for the caller's browser, TURN credentials minted for them."""
    return calls.ice_servers(settings=settings, actor=user)


@router.get("/consultations/{consultation_id}/calls/{call_id}/livekit")
async def livekit_join(
    consultation_id: uuid.UUID,
    call_id: uuid.UUID,
    session: Session,
    user: Reader,
    settings: SettingsDep,
) -> schemas.LiveKitJoin:
    """Join a live call's LiveKit room: its address, its name and a token for the caller
    (404 where calls are peer to peer)."""
    return await calls.livekit_join(
        session=session,
        settings=settings,
        actor=user,
        consultation_id=consultation_id,
        call_id=call_id,
    )
