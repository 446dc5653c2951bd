"""What pages below the records domain show of a patient's clinical lists, handed in.

The doctor's queue card and the chat's side panel show the patient's allergy line, but the
queue and consultations never import records (records sits above consultations and beside
the queue). They declare what they need here (`AllergyLineSource`) and read it from the
app (`AllergyLines`); `app.py` hands in records' implementation with `use_allergy_lines`,
as it hands the chart its drafts (docs/architecture.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import Actor


@dataclass(frozen=True)
class AllergyLine:
    """The allergies in one line; `severe` paints it red; `known` is false for none recorded."""

    text: str
    severe: bool
    known: bool


class AllergyLineSource(Protocol):
    async def allergy_line(
        self, *, session: AsyncSession, actor: Actor, patient_id: uuid.UUID
    ) -> AllergyLine | None:
        """The patient's active allergies for this actor, None when they may not see them."""
        ...


def use_allergy_lines(app: FastAPI, source: AllergyLineSource) -> None:
    """Where the queue and the chat get allergy lines from (set once, by the wiring)."""
    app.state.allergy_lines = source


def allergy_lines(request: Request) -> AllergyLineSource:
    """The source handed in, for a route (or a refusal page drawn outside a route's
    dependencies)."""
    source: AllergyLineSource = request.app.state.allergy_lines
    return source


async def _allergy_lines(request: Request) -> AllergyLineSource:
    # A coroutine, so FastAPI does not send it to the thread pool (deps.py says why).
    return allergy_lines(request)


AllergyLines = Annotated[AllergyLineSource, Depends(_allergy_lines)]
