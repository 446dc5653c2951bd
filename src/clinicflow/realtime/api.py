"""The socket endpoint, and polling for clients that cannot open a socket."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket

from clinicflow.core.errors import not_found
from clinicflow.deps import CurrentUser, RuntimeDep, Session
from clinicflow.realtime import socket
from clinicflow.realtime.topics import MAX_SEQ, NotAllowed, UnknownTopic
from clinicflow.routing import TransactionalRoute, writes

router = APIRouter(tags=["realtime"], route_class=TransactionalRoute)
sockets = APIRouter()


@sockets.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    await socket.serve(websocket, websocket.app.state.runtime)


@router.get("/api/events")
@writes
async def poll_events(
    session: Session,
    user: CurrentUser,
    runtime: RuntimeDep,
    topic: Annotated[str, Query(max_length=200)],
    since: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
) -> dict[str, Any]:
    """What a socket subscriber would have received after `since`: for a page that polls
    instead. Ephemeral events (typing, presence changes) are not kept and not returned.
    `seq` is where the next poll starts (`since`), also when no event came."""
    try:
        events, seq = await runtime.hub.poll(session=session, user=user, name=topic, since=since)
    except (UnknownTopic, NotAllowed):
        raise not_found() from None
    return {"events": [event.as_json() for event in events], "seq": seq}
