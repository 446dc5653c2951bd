"""A process's held copies are dropped when one of its sessions writes their tables."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from clinicflow.clinic import service as clinic
from clinicflow.core.held import Held
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.factories import Accounts

pytestmark = pytest.mark.usefixtures("app")


def test_a_copy_read_across_a_drop_is_not_kept() -> None:
    held: Held[str] = Held(["users"], seconds=60)
    generation = held.generation
    held.drop()  # a write landed while the copy was being read
    held.put("k", "old", generation)
    assert held.get("k") is None
    held.put("k", "new", held.generation)
    assert held.get("k") == "new"


async def test_a_copy_is_kept_no_longer_than_its_time() -> None:
    held: Held[str] = Held(["users"], seconds=0.05)
    held.put("k", "v", held.generation)
    assert held.get("k") == "v"
    await asyncio.sleep(0.06)
    assert held.get("k") is None


def in_process(runtime: Runtime) -> Held[object]:
    """A copy watching `users`, handed to every session as the runtime's own are."""
    held: Held[object] = Held([User.__tablename__], seconds=60)
    runtime.sessionmaker.kw["info"]["test.held"] = held
    held.put("k", object(), held.generation)
    return held


async def test_an_orm_change_drops_the_copy(runtime: Runtime, accounts: Accounts) -> None:
    user = await accounts.make(Role.doctor)
    held = in_process(runtime)
    async with runtime.transaction() as session:
        (await session.get_one(User, user.id)).name = "Changed"
    assert held.get("k") is None


async def test_an_update_statement_drops_the_copy(runtime: Runtime, accounts: Accounts) -> None:
    await accounts.make(Role.doctor)
    held = in_process(runtime)
    async with runtime.transaction() as session:
        await session.execute(update(User).values(name="Everyone"))
    assert held.get("k") is None


async def test_a_copy_refilled_before_the_commit_is_dropped_by_it(
    runtime: Runtime, accounts: Accounts
) -> None:
    user = await accounts.make(Role.doctor)
    held = in_process(runtime)
    async with runtime.transaction() as session:
        (await session.get_one(User, user.id)).name = "Changed"
        await session.flush()
        # A read elsewhere, before this commit, still sees the old row and keeps it.
        held.put("k", "old row", held.generation)
    assert held.get("k") is None


async def test_a_write_to_another_table_keeps_the_copy(
    runtime: Runtime, accounts: Accounts
) -> None:
    admin = await accounts.make(Role.admin)
    held = in_process(runtime)
    async with runtime.transaction() as session:
        await clinic.update(session=session, actor=admin, changes={"name": "Kliniki"})
    assert held.get("k") is not None


async def test_a_clinic_save_is_read_by_the_next_request(
    runtime: Runtime, accounts: Accounts
) -> None:
    async with runtime.transaction(write=False) as session:
        before = await clinic.current_held(session=session)
    admin = await accounts.make(Role.admin)
    async with runtime.transaction() as session:
        await clinic.update(session=session, actor=admin, changes={"name": "Kliniki Mpya"})
    async with runtime.transaction(write=False) as session:
        after = await clinic.current_held(session=session)
    assert (before.name, after.name) == (runtime.settings.clinic_name, "Kliniki Mpya")


async def test_misses_at_the_same_moment_share_one_load() -> None:
    held: Held[str] = Held(["users"], seconds=60)
    loads = 0
    release = asyncio.Event()

    async def load() -> str:
        nonlocal loads
        loads += 1
        await release.wait()
        return "row"

    readers = [asyncio.create_task(held.read("k", load)) for _ in range(64)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*readers) == ["row"] * 64
    assert loads == 1


async def test_waiters_load_for_themselves_when_the_loader_is_cancelled() -> None:
    held: Held[str] = Held(["users"], seconds=60)
    started = asyncio.Event()

    async def stuck() -> str:
        started.set()
        await asyncio.sleep(60)
        return "never"

    async def quick() -> str:
        return "row"

    loader = asyncio.create_task(held.read("k", stuck))
    await started.wait()
    waiter = asyncio.create_task(held.read("k", quick))
    await asyncio.sleep(0)
    loader.cancel()
    assert await waiter == "row"


async def test_nothing_found_is_not_kept() -> None:
    held: Held[str] = Held(["users"], seconds=60)

    async def nothing() -> str | None:
        return None

    assert await held.read("k", nothing) is None
    assert held.get("k") is None
