"""Consultation fixtures: the `clinic` (people and consultations, see clinic.py) and a
collector of what is published after commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.consultations.models import Message
from clinicflow.core import security
from clinicflow.realtime import Event
from clinicflow.realtime.publish import PUBLISHER_KEY, Publisher
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic
from tests.factories import Accounts


@pytest.fixture(autouse=True)
def field_encryption(settings: Settings) -> Iterator[None]:
    """The keys are process-wide: a test that rotates them must not leave them rotated."""
    yield
    security.configure_field_encryption(
        keys=settings.field_encryption_keys, secret_key=settings.secret_key
    )


@dataclass
class Published:
    """Every batch the sessions published, and whether its data was committed at that time."""

    runtime: Runtime
    forward: Publisher
    events: list[Event] = field(default_factory=list)
    stored_when_published: list[bool] = field(default_factory=list)

    async def publish(self, events: list[Event]) -> None:
        for event in events:
            self.events.append(event)
            if event.type == "message.created":
                self.stored_when_published.append(await self._stored(event.data["id"]))
        await self.forward.publish(events)

    async def _stored(self, message_id: str) -> bool:
        # A fresh autocommit connection sees only what has been committed.
        autocommit = self.runtime.engine.execution_options(isolation_level="AUTOCOMMIT")
        async with AsyncSession(bind=autocommit) as reader:
            found = await reader.scalar(
                select(Message.id).where(Message.id == uuid.UUID(message_id))
            )
        return found is not None

    def of_type(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.type == kind]


@pytest.fixture
def published(runtime: Runtime) -> Iterator[Published]:
    info: dict[str, Any] = runtime.sessionmaker.kw["info"]
    original = info[PUBLISHER_KEY]
    collector = Published(runtime=runtime, forward=original)
    info[PUBLISHER_KEY] = collector
    yield collector
    info[PUBLISHER_KEY] = original


@pytest.fixture
def clinic(client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime) -> Clinic:
    return Clinic(client, accounts, runtime)
