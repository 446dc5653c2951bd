"""The unit of work: side effects follow a commit, never a rollback."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import db
from clinicflow.runtime import Runtime

pytestmark = pytest.mark.usefixtures("app")


async def test_after_commit_runs_only_after_a_commit(runtime: Runtime) -> None:
    ran: list[str] = []

    async def note() -> None:
        ran.append("sent")

    async def failing_change() -> None:
        async with runtime.transaction() as session:
            db.after_commit(session, note)
            raise RuntimeError("the change fails")

    with pytest.raises(RuntimeError):
        await failing_change()
    assert ran == []

    async with runtime.transaction() as session:
        db.after_commit(session, note)
        assert ran == []
    assert ran == ["sent"]


async def test_a_rollback_drops_side_effects_even_if_the_session_commits_later(
    runtime: Runtime,
) -> None:
    ran: list[str] = []

    async def note() -> None:
        ran.append("sent")

    async with runtime.transaction() as session:
        db.after_commit(session, note)
        await session.rollback()
    assert ran == []


async def test_a_rolled_back_savepoint_drops_only_its_own_side_effects(runtime: Runtime) -> None:
    ran: list[str] = []

    def noting(label: str) -> db.AfterCommit:
        async def note() -> None:
            ran.append(label)

        return note

    class Refused(Exception):
        pass

    async def failed_savepoint(session: AsyncSession) -> None:
        async with session.begin_nested():
            db.after_commit(session, noting("inside the failed savepoint"))
            raise Refused

    async with runtime.transaction() as session:
        db.after_commit(session, noting("before"))
        with pytest.raises(Refused):
            await failed_savepoint(session)
        async with session.begin_nested():
            db.after_commit(session, noting("inside a kept savepoint"))
        db.after_commit(session, noting("after"))
    assert ran == ["before", "inside a kept savepoint", "after"]


async def test_a_failing_side_effect_does_not_stop_the_others(runtime: Runtime) -> None:
    ran: list[str] = []

    async def broken() -> None:
        raise ConnectionError("the SMS gateway is down")

    async def note() -> None:
        ran.append("sent")

    async with runtime.transaction() as session:
        db.after_commit(session, broken)
        db.after_commit(session, note)
    assert ran == ["sent"]


async def test_reads_do_not_wait_for_a_writer(runtime: Runtime, client: httpx.AsyncClient) -> None:
    """A long write (on SQLite: the write lock) must not stall health checks or reads."""
    async with runtime.transaction() as session:
        await session.execute(text("UPDATE audit_head SET last_seq = last_seq WHERE id = 1"))
        response = await asyncio.wait_for(client.get("/health"), timeout=5)
        assert response.status_code == 200
        me = await asyncio.wait_for(client.get("/api/me"), timeout=5)
        assert me.status_code == 401
