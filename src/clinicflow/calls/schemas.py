"""API shapes and enums of calls (never the table itself).

A call as the history shows it: `{id, kind, started_by, started_at, answered_at, ended_at,
duration_seconds}`. A relayed signalling event's `data` is `{call_id, from_user_id, ...}`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from clinicflow.core import moments
from clinicflow.i18n import gettext as _


class CallKind(StrEnum):
    audio = "audio"
    video = "video"

    @property
    def label(self) -> str:
        return {CallKind.audio: _("Audio call"), CallKind.video: _("Video call")}[self]


class CallStatus(StrEnum):
    """Where a call stands: ringing until answered, declined or given up; connected until
    either side hangs up. Only `ringing` and `connected` calls carry signalling."""

    ringing = "ringing"
    connected = "connected"
    ended = "ended"
    declined = "declined"
    missed = "missed"


LIVE = frozenset({CallStatus.ringing, CallStatus.connected})
# Where a call's media goes: browser to browser, or through the clinic's LiveKit server.
Media = Literal["p2p", "livekit"]


class Signal(StrEnum):
    """The `type` of a `call` frame; the other side receives it as `call.<type>`."""

    ring = "ring"
    accept = "accept"
    decline = "decline"
    busy = "busy"
    end = "end"
    offer = "offer"
    answer = "answer"
    ice = "ice"


class CallOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    kind: CallKind
    status: CallStatus
    started_by: uuid.UUID
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None

    @property
    def outcome(self) -> str:
        """How the call went, in the reader's words: how long it lasted ("lasted 4 min 12
        s"), or that it was declined, not answered, or is still going on."""
        if self.duration_seconds is not None:
            return _("lasted %(duration)s") % {
                "duration": moments.format_duration(self.duration_seconds)
            }
        return {
            CallStatus.declined: _("declined"),
            CallStatus.missed: _("not answered"),
        }.get(self.status) or _("in progress")


class IceServer(BaseModel):
    """One entry of `RTCConfiguration.iceServers`, as the browser takes it."""

    model_config = ConfigDict(frozen=True)

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceServers(BaseModel):
    model_config = ConfigDict(frozen=True)

    ice_servers: list[IceServer]
    # Seconds the TURN credentials are valid for (None: no minted credentials).
    ttl_seconds: int | None = None


class LiveKitJoin(BaseModel):
    """What the browser's LiveKit client needs to join a call's room."""

    model_config = ConfigDict(frozen=True)

    url: str
    room: str
    token: str
