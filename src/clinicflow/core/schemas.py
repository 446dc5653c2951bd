"""The base of every request shape: one definition, so every domain refuses the same way."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A request body that names a field the API does not know is refused (422), not ignored:
    a client that misspells `starts_at` must hear about it rather than book the wrong time."""

    model_config = ConfigDict(extra="forbid")
