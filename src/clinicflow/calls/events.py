"""The `call` frames of a consultation's topic (`{"op": "call"}` on `/ws`): parsed here and
handed to the service, which checks, records and relays them.

Frame: `{"op":"call", "topic":"consultation:<id>", "type":<Signal>, "call_id", "data"}`;
`call_id` is left out of `ring` (the server makes the call and answers its id); `data` is a
JSON object (the session description, a candidate, the call's kind) passed on as it is.
The sender's reply: `{"op":"called", "topic", "type", "call_id", "status"}`.

Every frame is admitted first against its sender's budget on that consultation (the
settings' `call_frames_per_window` per `call_frame_window_seconds`, in the process's rate
limiter: memory, or Redis shared by every process), so a flood is refused with the
protocol's error frame (`rate_limited`, with `retry_after`) before it costs a transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.calls import livekit
from clinicflow.calls import service as calls
from clinicflow.calls.schemas import Media, Signal
from clinicflow.config import Settings
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.core.ratelimit import RateLimiter
from clinicflow.i18n import gettext as _
from clinicflow.realtime.topics import NotAllowed


class CallSignals:
    """Registered for the `consultation` kind of topic (`Registry.relay_calls`)."""

    def __init__(self, settings: Settings, limiter: RateLimiter) -> None:
        self._media: Media = "livekit" if livekit.enabled(settings) else "p2p"
        self._limiter = limiter
        self._budget = settings.call_frames_per_window
        self._window = settings.call_frame_window_seconds

    async def admit(self, *, user_id: uuid.UUID, key: str) -> None:
        hits, retry_after = await self._limiter.hit(f"calls:frames:{user_id}:{key}", self._window)
        if hits > self._budget:
            raise AppError(
                ErrorCode.rate_limited,
                _("Too many call messages at once. Wait a moment and try again."),
                {"retry_after": retry_after},
            )

    async def signal(
        self, *, session: AsyncSession, user: Actor, key: str, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        try:
            consultation_id = uuid.UUID(key)
        except ValueError:
            raise NotAllowed(key) from None
        kind = _signal(payload.get("type"))
        data = payload.get("data", {})
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise _bad("data", _("Call data must be a JSON object."))
        call = await calls.signal(
            session=session,
            actor=user,
            consultation_id=consultation_id,
            kind=kind,
            call_id=None if kind is Signal.ring else _call_id(payload.get("call_id")),
            data=data,
            media=self._media,
        )
        answer = {"type": kind.value, "call_id": str(call.id), "status": call.status.value}
        if kind is Signal.ring:
            answer["media"] = self._media
        return answer


def _signal(value: object) -> Signal:
    try:
        return Signal(value if isinstance(value, str) else "")
    except ValueError:
        raise _bad("type", _("Unknown call frame type.")) from None


def _call_id(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(value if isinstance(value, str) else "")
    except ValueError:
        raise _bad("call_id", _("Name the call.")) from None


def _bad(field: str, message: str) -> AppError:
    return AppError(ErrorCode.validation_error, message, {"field": field})
