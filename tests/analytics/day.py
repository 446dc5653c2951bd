"""A clinic day built by hand through the services, at the instants a test chooses.

Every step sets the frozen clock first, so the rows carry exactly the times the test
expects, then runs the product's own verb in its own transaction, as a request would.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.analytics import service as analytics
from clinicflow.clinic import service as clinic
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.queue import service as queues
from clinicflow.queue.schemas import Severity
from clinicflow.runtime import Runtime
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import Mode
from tests.factories import Accounts

WEEK = {day: [("00:00", "23:59")] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@dataclass
class ClinicDay:
    runtime: Runtime
    accounts: Accounts
    clock: FrozenClock
    zone: str
    desk: User | None = None
    phones: int = field(default=0)

    async def at(self, instant: datetime) -> None:
        self.clock.current = instant

    async def doctor(self, *, bookable: bool = False) -> User:
        doctor = await self.accounts.make(Role.doctor, profile={"timezone": self.zone})
        if bookable:
            async with self.runtime.transaction() as session:
                await scheduling.set_availability(
                    session=session,
                    actor=doctor,
                    doctor_id=doctor.id,
                    timezone=self.zone,
                    slot_minutes=15,
                    weekly={day: list(pairs) for day, pairs in WEEK.items()},
                    exceptions=[],
                )
        return doctor

    async def receptionist(self) -> User:
        if self.desk is None:
            self.desk = await self.accounts.make(Role.receptionist)
        return self.desk

    async def walk_in(self, doctor: User, instant: datetime) -> uuid.UUID:
        await self.at(instant)
        self.phones += 1
        desk = await self.receptionist()
        async with self.runtime.transaction() as session:
            entry = await queues.walk_in(
                session=session,
                actor=desk,
                doctor_id=doctor.id,
                phone=f"+25479{self.phones:07d}",
                name=f"Walk In {self.phones}",
                severity=Severity.routine,
                patient_type=None,
            )
            return entry.id

    async def book(self, doctor: User, starts_at: datetime, instant: datetime) -> uuid.UUID:
        await self.at(instant)
        patient = await self.accounts.make(Role.patient)
        async with self.runtime.transaction() as session:
            appointment = await scheduling.book(
                session=session,
                settings=self.runtime.settings,
                actor=patient,
                doctor_id=doctor.id,
                starts_at=starts_at,
                mode=Mode.in_person,
            )
            return appointment.id

    async def cancel(self, appointment_id: uuid.UUID, instant: datetime) -> None:
        await self.at(instant)
        desk = await self.receptionist()
        async with self.runtime.transaction() as session:
            await scheduling.cancel(
                session=session,
                settings=self.runtime.settings,
                actor=desk,
                appointment_id=appointment_id,
            )

    async def check_in(self, appointment_id: uuid.UUID, instant: datetime) -> uuid.UUID:
        await self.at(instant)
        desk = await self.receptionist()
        async with self.runtime.transaction() as session:
            entry, _created = await queues.check_in(
                session=session,
                settings=self.runtime.settings,
                actor=desk,
                appointment_id=appointment_id,
            )
            return entry.id

    async def call(self, doctor: User, instant: datetime) -> uuid.UUID:
        await self.at(instant)
        async with self.runtime.transaction() as session:
            _state, entry = await queues.call_next(
                session=session, actor=doctor, doctor_id=doctor.id
            )
            return entry.id

    async def finish(self, doctor: User, entry_id: uuid.UUID, instant: datetime) -> None:
        await self.at(instant)
        async with self.runtime.transaction() as session:
            await queues.finish(session=session, actor=doctor, entry_id=entry_id)

    async def no_show(self, doctor: User, entry_id: uuid.UUID, instant: datetime) -> None:
        """Marked not there; the grace period then runs out (the worker's sweep)."""
        await self.at(instant)
        async with self.runtime.transaction() as session:
            await queues.no_show(session=session, actor=doctor, entry_id=entry_id)

    async def sweep(self, instant: datetime) -> None:
        await self.at(instant)
        async with self.runtime.transaction() as session:
            await queues.expire_skipped(session=session)

    async def roll_up(self, day: date) -> None:
        async with self.runtime.transaction() as session:
            await analytics.roll_up_day(
                session=session, clinic=await self.profile(session), day=day
            )

    async def profile(self, session: AsyncSession) -> Any:
        return await clinic.current(session=session, defaults=self.runtime.settings)

    async def summary(self, actor: User, first: date, last: date, **options: Any) -> dict[str, Any]:
        async with self.runtime.transaction(write=False) as session:
            result = await analytics.summary_for(
                session=session,
                actor=actor,
                clinic=await self.profile(session),
                first=first,
                last=last,
                **options,
            )
            return result.model_dump(mode="json", by_alias=True)
