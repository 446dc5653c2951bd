"""Reads may be answered from the process's copy of a login or of the doctors' directory;
what ends or changes them still takes effect at once (docs/performance.md, `core.held`)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.identity.models import LoginSession, User
from clinicflow.identity.schemas import Role
from clinicflow.identity.service import sessions
from clinicflow.runtime import Runtime
from tests.factories import Accounts, bearer, login

pytestmark = pytest.mark.usefixtures("app")


async def held_read(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    """GET /api/me twice, so the second answer came from the held copy."""
    assert (await client.get("/api/me", headers=headers)).status_code == 200
    return await client.get("/api/me", headers=headers)


async def held_doctor(client: httpx.AsyncClient, accounts: Accounts) -> tuple[User, dict[str, str]]:
    """A doctor signed in, whose login the process now holds."""
    doctor = await accounts.make(Role.doctor)
    headers = bearer(await login(client, doctor))
    assert (await held_read(client, headers)).status_code == 200
    return doctor, headers


async def admin_changes(
    client: httpx.AsyncClient, accounts: Accounts, user: User, **fields: object
) -> None:
    """An admin of this process changes `user` through the API."""
    admin = bearer(await login(client, await accounts.make(Role.admin)))
    changed = await client.patch(f"/api/admin/users/{user.id}", json=fields, headers=admin)
    assert changed.status_code == 200, changed.text


def held_logins(runtime: Runtime) -> int:
    copies = runtime.sessionmaker.kw["info"][sessions.HELD_LOGINS_KEY]
    return len(copies._values)


async def test_a_read_is_answered_from_the_held_login_without_a_query(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    tokens = await login(client, await accounts.make(Role.doctor))
    assert (await client.get("/api/me", headers=bearer(tokens))).status_code == 200
    assert held_logins(runtime) == 1
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    try:
        answer = await client.get("/api/me", headers=bearer(tokens))
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)
    assert answer.status_code == 200
    assert answer.json()["role"] == "doctor"
    assert statements == []


async def test_signing_out_ends_held_reads_at_once(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    _doctor, headers = await held_doctor(client, accounts)
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/me", headers=headers)).status_code == 401


async def test_deactivation_ends_held_reads_at_once(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    doctor, headers = await held_doctor(client, accounts)
    await admin_changes(client, accounts, doctor, is_active=False)
    assert (await client.get("/api/me", headers=headers)).status_code == 401


async def test_a_change_to_the_user_shows_in_the_next_read(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    doctor, headers = await held_doctor(client, accounts)
    assert (await client.get("/api/me", headers=headers)).json()["name"] == doctor.name
    await admin_changes(client, accounts, doctor, name="Dr. Renamed")
    assert (await client.get("/api/me", headers=headers)).json()["name"] == "Dr. Renamed"


async def revoke_elsewhere(runtime: Runtime, user_id: uuid.UUID) -> None:
    """Revoke the user's logins as another process would: a session that is not this
    process's (no held copies in its `info`)."""
    async with AsyncSession(runtime.engine) as other, other.begin():
        await other.execute(
            update(LoginSession)
            .where(LoginSession.user_id == user_id)
            .values(revoked_at=clock.now())
        )
        await other.execute(update(User).where(User.id == user_id).values(is_active=False))


async def test_a_write_never_uses_the_held_login(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    doctor, headers = await held_doctor(client, accounts)
    await revoke_elsewhere(runtime, doctor.id)
    refused = await client.post(
        "/api/me/password",
        json={"current_password": "x", "new_password": "a new password 123"},
        headers=headers,
    )
    assert refused.status_code == 401


async def test_another_process_change_reaches_reads_within_the_held_time(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    doctor, headers = await held_doctor(client, accounts)
    await revoke_elsewhere(runtime, doctor.id)
    await asyncio.sleep(sessions.HELD_LOGIN_SECONDS + 0.1)
    assert (await client.get("/api/me", headers=headers)).status_code == 401


async def test_a_refused_login_is_never_held(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    doctor = await accounts.make(Role.doctor)
    tokens = await login(client, doctor)
    assert (await client.post("/api/auth/logout", headers=bearer(tokens))).status_code == 204
    assert (await client.get("/api/me", headers=bearer(tokens))).status_code == 401
    assert held_logins(runtime) == 0


async def test_the_held_directory_follows_changes_and_the_readers_language(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    admin = bearer(await login(client, await accounts.make(Role.admin)))
    doctor = await accounts.make(Role.doctor, name="Dr. Baraka")
    assert [d["name"] for d in (await client.get("/api/doctors")).json()] == ["Dr. Baraka"]
    added = await client.post(
        "/api/admin/specialties",
        json={"name_en": "Paediatrics", "name_sw": "Watoto"},
        headers=admin,
    )
    changed = await client.patch(
        f"/api/doctors/{doctor.id}/profile",
        json={"specialty_id": added.json()["id"]},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    english = (await client.get("/api/doctors")).json()
    swahili = (await client.get("/api/doctors", headers={"Accept-Language": "sw"})).json()
    assert (english[0]["specialty"], swahili[0]["specialty"]) == ("Paediatrics", "Watoto")
    await accounts.make(Role.doctor, name="Dr. Amani")
    listed = [d["name"] for d in (await client.get("/api/doctors")).json()]
    assert listed == ["Dr. Amani", "Dr. Baraka"]
    gone = await client.patch(
        f"/api/admin/users/{doctor.id}", json={"is_active": False}, headers=admin
    )
    assert gone.status_code == 200, gone.text
    assert [d["name"] for d in (await client.get("/api/doctors")).json()] == ["Dr. Amani"]
