"""Migrations build the same schema as the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.engine import make_url

from clinicflow import db, migrate
from clinicflow.config import Settings
from clinicflow.core import security
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


_STAMPS = {"created_at": db.UTCDateTime(), "updated_at": db.UTCDateTime()}
_COLUMNS: dict[str, dict[str, Any]] = {
    "users": {
        "id": sa.Uuid(),
        "role": sa.String(),
        "name": sa.String(),
        "is_active": sa.Boolean(),
        **_STAMPS,
    },
    "appointments": {
        "id": sa.Uuid(),
        "doctor_id": sa.Uuid(),
        "patient_id": sa.Uuid(),
        "booked_by_id": sa.Uuid(),
        "starts_at": db.UTCDateTime(),
        "ends_at": db.UTCDateTime(),
        "mode": sa.String(),
        "reason": sa.Text(),
        "status": sa.String(),
        **_STAMPS,
    },
}


def test_reasons_stored_before_encryption_are_encrypted_by_the_upgrade(
    empty_database: str, settings: Settings
) -> None:
    """Revision 0011 rewrites the appointment reasons already stored as clear text with the
    field key, and its downgrade gives them back in the clear."""
    security.configure_field_encryption(
        keys=settings.field_encryption_keys, secret_key=settings.secret_key
    )
    migrate.upgrade(empty_database, "0009")
    doctor, patient, appointment = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    stamps = {"created_at": now, "updated_at": now}
    users = sa.table(
        "users",
        *(sa.column(name, kind) for name, kind in _COLUMNS["users"].items()),
    )
    appointments = sa.table(
        "appointments",
        *(sa.column(name, kind) for name, kind in _COLUMNS["appointments"].items()),
    )

    async def run(*statements: Any) -> list[str]:
        engine = db.create_engine(empty_database)
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(statement)
            reasons = (await connection.execute(text("SELECT reason FROM appointments"))).all()
        await engine.dispose()
        return [row[0] for row in reasons]

    await_result = run(
        sa.insert(users).values(id=doctor, role="doctor", name="Dr", is_active=True, **stamps),
        sa.insert(users).values(id=patient, role="patient", name="P", is_active=True, **stamps),
        sa.insert(appointments).values(
            id=appointment,
            doctor_id=doctor,
            patient_id=patient,
            booked_by_id=patient,
            starts_at=now,
            ends_at=now,
            mode="in_person",
            reason="cough for 3 days",
            status="booked",
            **stamps,
        ),
    )
    assert asyncio.run(await_result) == ["cough for 3 days"]
    migrate.upgrade(empty_database)
    [stored] = asyncio.run(run())
    assert stored.startswith("gAAAA")
    assert security.decrypt_text(stored) == "cough for 3 days"
    migrate.downgrade(empty_database, "0009")
    assert asyncio.run(run()) == ["cough for 3 days"]
