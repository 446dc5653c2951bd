"""Migrations build the same schema as the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from clinicflow import db, migrate
from tests.conftest import TEST_DATABASE_URL


def _postgres_database() -> Iterator[str]:
    assert TEST_DATABASE_URL is not None
    server = make_url(TEST_DATABASE_URL)
    name = f"clinicflow_migrations_{uuid.uuid4().hex[:8]}"

    async def admin(statement: str) -> None:
        engine = db.create_engine(
            server.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
        )
        async with engine.connect() as connection:
            await connection.execute(text(statement))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """A brand-new database of the kind this run tests (SQLite, or PostgreSQL when configured)."""
    if TEST_DATABASE_URL and TEST_DATABASE_URL.startswith("postgresql"):
        yield from _postgres_database()
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"


def test_upgrade_leaves_no_drift(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    migrate.check(empty_database)


def test_downgrade_and_upgrade_again(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    migrate.downgrade(empty_database, "base")
    migrate.upgrade(empty_database)
    migrate.check(empty_database)


def test_the_audit_chain_starts_from_its_head_row(empty_database: str) -> None:
    migrate.upgrade(empty_database)

    async def head() -> tuple[int, str]:
        engine = db.create_engine(empty_database)
        async with engine.connect() as connection:
            row = (
                await connection.execute(text("SELECT last_seq, last_hash FROM audit_head"))
            ).one()
        await engine.dispose()
        return row[0], row[1]

    assert asyncio.run(head()) == (0, "0" * 64)
