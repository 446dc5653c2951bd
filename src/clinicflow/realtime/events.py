"""The one shape every realtime event has, on the socket, in Redis and in the polling API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened on a topic.

    `seq` orders a topic's durable events (a consultation's messages) and lets a client
    resume after a reconnect; ephemeral events (typing, presence) have none and are never
    replayed. `data` must already be JSON-ready (ids and times as strings).

    `to` (a user id) narrows an ephemeral event to that person's sockets among the topic's
    followers: a call's signalling is between its two participants, though an admin may
    follow the consultation's topic too.
    """

    topic: str
    type: str
    data: Mapping[str, Any]
    seq: int | None = None
    to: str | None = None
    _frame: str | None = field(default=None, init=False, repr=False, compare=False)

    def as_json(self) -> dict[str, Any]:
        value = {"topic": self.topic, "type": self.type, "seq": self.seq, "data": dict(self.data)}
        if self.to is not None:
            value["to"] = self.to
        return value

    def encode(self) -> str:
        """The frame as sent; kept, because every follower of a topic (and the Redis
        publish) needs the same text and encoding it again for each was measurable."""
        frame = self._frame
        if frame is None:
            frame = json.dumps(self.as_json(), separators=(",", ":"))
            object.__setattr__(self, "_frame", frame)
        return frame

    @classmethod
    def decode(cls, raw: str | bytes) -> Event:
        """The event in `raw`, keeping `raw` as its frame: it is what `encode` made in the
        process that published it, so encoding it again for the followers here is waste."""
        text = raw.decode() if isinstance(raw, bytes) else raw
        value = json.loads(text)
        event = cls(
            topic=value["topic"],
            type=value["type"],
            data=value["data"],
            seq=value["seq"],
            to=value.get("to"),
        )
        object.__setattr__(event, "_frame", text)
        return event
