"""The audit chain: every row links to the one before, so tampering is found and named."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from clinicflow.config import Settings
from clinicflow.core import audit
from clinicflow.core.audit import AuditEntry, AuditHead
from clinicflow.runtime import Runtime
from tests.factories import run_cli

pytestmark = pytest.mark.usefixtures("app")


async def write_rows(runtime: Runtime, count: int) -> None:
    for n in range(count):
        async with runtime.transaction() as session:
            audit.bind_address(session, "198.51.100.1")
            await audit.record(
                session,
                action=f"test.action{n % 3}",
                resource_type="thing",
                resource_id=str(n),
                details={"n": n, "note": "ünïcödé"},
            )


async def verify(runtime: Runtime) -> audit.VerifyResult:
    async with runtime.transaction() as session:
        return await audit.verify(session)


async def tamper(runtime: Runtime, statement: object) -> None:
    async with runtime.transaction() as session:
        await session.execute(statement)  # type: ignore[call-overload]


async def test_an_untouched_chain_verifies(runtime: Runtime) -> None:
    await write_rows(runtime, 5)
    result = await verify(runtime)
    assert result.ok
    assert result.rows_checked == 5


async def test_an_empty_chain_verifies(runtime: Runtime) -> None:
    assert (await verify(runtime)).ok


async def test_an_altered_row_is_named(runtime: Runtime) -> None:
    await write_rows(runtime, 5)
    await tamper(runtime, update(AuditEntry).where(AuditEntry.seq == 3).values(outcome="failure"))
    result = await verify(runtime)
    assert (result.ok, result.bad_seq) == (False, 3)
    assert "row 3 was altered" in (result.problem or "")


async def test_an_altered_row_with_a_recomputed_hash_is_still_found(runtime: Runtime) -> None:
    await write_rows(runtime, 5)
    async with runtime.transaction() as session:
        entry = (await session.scalars(select(AuditEntry).where(AuditEntry.seq == 2))).one()
        entry.details = {"n": 999}
        entry.hash = audit._digest(entry)
    result = await verify(runtime)
    assert (result.ok, result.bad_seq) == (False, 2)


async def test_a_deleted_row_is_named(runtime: Runtime) -> None:
    await write_rows(runtime, 5)
    await tamper(runtime, delete(AuditEntry).where(AuditEntry.seq == 4))
    result = await verify(runtime)
    assert (result.ok, result.bad_seq) == (False, 4)
    assert "row 4 was removed" in (result.problem or "")


async def test_deleting_the_newest_rows_is_found(runtime: Runtime) -> None:
    await write_rows(runtime, 5)
    await tamper(runtime, delete(AuditEntry).where(AuditEntry.seq >= 4))
    result = await verify(runtime)
    assert (result.ok, result.bad_seq) == (False, 4)


async def test_concurrent_writers_keep_one_unbroken_chain(runtime: Runtime) -> None:
    async def writer(n: int) -> None:
        async with runtime.transaction() as session:
            await audit.record(session, action="test.concurrent", resource_type="w", resource_id=n)

    await asyncio.gather(*[writer(n) for n in range(40)])
    result = await verify(runtime)
    assert result.ok
    assert result.rows_checked == 40


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    count=st.integers(min_value=1, max_value=8),
    data=st.data(),
)
async def test_any_single_tampering_is_detected_at_its_row(
    runtime: Runtime, engine: AsyncEngine, count: int, data: st.DataObject
) -> None:
    async with engine.begin() as connection:
        await connection.execute(delete(AuditEntry))
        await connection.execute(update(AuditHead).values(**audit.HEAD_ROW))
    await write_rows(runtime, count)
    target = data.draw(st.integers(min_value=1, max_value=count), label="row")
    kind = data.draw(st.sampled_from(["action", "ip", "details", "delete"]), label="kind")
    if kind == "delete":
        statement: object = delete(AuditEntry).where(AuditEntry.seq == target)
    else:
        value = {"action": "forged", "ip": "10.0.0.1", "details": {"forged": True}}[kind]
        statement = update(AuditEntry).where(AuditEntry.seq == target).values({kind: value})
    await tamper(runtime, statement)
    result = await verify(runtime)
    assert not result.ok
    assert result.bad_seq == target


async def test_cli_verify_passes_then_names_the_altered_row(
    runtime: Runtime, settings: Settings
) -> None:
    await write_rows(runtime, 4)
    ok = await asyncio.to_thread(run_cli, settings, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "4 rows" in ok.stdout

    await tamper(runtime, update(AuditEntry).where(AuditEntry.seq == 2).values(ip="10.9.9.9"))
    broken = await asyncio.to_thread(run_cli, settings, "audit", "verify")
    assert broken.returncode == 1
    assert "row 2" in broken.stderr

    async with runtime.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 4


async def head_seq(runtime: Runtime) -> int:
    async with runtime.transaction(write=False) as session:
        return (await session.get_one(AuditHead, 1, populate_existing=True)).last_seq


async def test_the_head_is_taken_only_as_the_transaction_commits(runtime: Runtime) -> None:
    await write_rows(runtime, 2)
    async with runtime.transaction() as session:
        await audit.record(session, action="test.late", resource_type="thing")
        await audit.record(session, action="test.later", resource_type="thing")
        # Recorded but not chained: the head row is untouched (and unlocked) in here.
        mine = await session.get_one(AuditHead, 1, populate_existing=True)
        assert mine.last_seq == 2
    assert await head_seq(runtime) == 4
    result = await verify(runtime)
    assert (result.ok, result.rows_checked) == (True, 4)
    async with runtime.transaction(write=False) as session:
        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))).all()
    assert actions[2:] == ["test.late", "test.later"]


async def test_rows_of_a_rolled_back_savepoint_or_transaction_are_never_chained(
    runtime: Runtime,
) -> None:
    async def undone_savepoint(session: AsyncSession) -> None:
        async with session.begin_nested():
            await audit.record(session, action="test.undone", resource_type="thing")
            raise RuntimeError

    async def failed_transaction() -> None:
        async with runtime.transaction() as session:
            await audit.record(session, action="test.failed", resource_type="thing")
            raise RuntimeError

    async with runtime.transaction() as session:
        await audit.record(session, action="test.kept", resource_type="thing")
        with pytest.raises(RuntimeError):
            await undone_savepoint(session)
    with pytest.raises(RuntimeError):
        await failed_transaction()
    async with runtime.transaction(write=False) as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert actions == ["test.kept"]
    assert await head_seq(runtime) == 1
    assert (await verify(runtime)).ok


async def test_an_open_audited_transaction_does_not_hold_up_another(runtime: Runtime) -> None:
    """On a server database the head's row lock is held only while a transaction commits,
    so one audited write still working does not make another wait (SQLite's single writer
    queues every write anyway, which is why this needs PostgreSQL)."""
    if runtime.settings.is_sqlite:
        pytest.skip("SQLite has one writer at a time whatever the audit does")
    recorded, release = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        async with runtime.transaction() as session:
            await audit.record(session, action="test.slow", resource_type="thing")
            recorded.set()
            await release.wait()

    slow_task = asyncio.create_task(slow())
    await recorded.wait()
    async with asyncio.timeout(5):
        async with runtime.transaction() as session:
            await audit.record(session, action="test.quick", resource_type="thing")
    release.set()
    await slow_task
    async with runtime.transaction(write=False) as session:
        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))).all()
    assert actions == ["test.quick", "test.slow"]
    assert (await verify(runtime)).ok
