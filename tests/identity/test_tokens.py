"""Access tokens live 15 minutes; refresh tokens rotate, and a reused one ends the login."""

from __future__ import annotations

import asyncio

import httpx
import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.models import RefreshToken
from clinicflow.identity.schemas import Role
from tests.factories import Accounts, bearer, login

pytestmark = pytest.mark.usefixtures("app")


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/auth/refresh", json={"refresh_token": token})


async def test_refresh_rotates_the_token(client: httpx.AsyncClient, accounts: Accounts) -> None:
    tokens = await login(client, await accounts.make(Role.doctor))
    renewed = await refresh(client, tokens["refresh_token"])
    assert renewed.status_code == 200
    body = renewed.json()
    assert body["refresh_token"] != tokens["refresh_token"]
    assert (await client.get("/api/me", headers=bearer(body))).status_code == 200
    assert (await refresh(client, body["refresh_token"])).status_code == 200


async def test_reusing_a_refresh_token_revokes_the_whole_login(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    tokens = await login(client, await accounts.make(Role.doctor))
    renewed = (await refresh(client, tokens["refresh_token"])).json()

    replay = await refresh(client, tokens["refresh_token"])
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "token_reused"
    # The legitimate newest tokens of that login stop working too.
    assert (await refresh(client, renewed["refresh_token"])).status_code == 401
    assert (await client.get("/api/me", headers=bearer(renewed))).status_code == 401


async def test_a_reused_token_is_audited_with_the_requests_address(
    client: httpx.AsyncClient, accounts: Accounts, session: AsyncSession
) -> None:
    doctor = await accounts.make(Role.doctor)
    tokens = await login(client, doctor)
    await refresh(client, tokens["refresh_token"])
    await refresh(client, tokens["refresh_token"])
    row = (
        await session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.refresh_reused"))
    ).one()
    assert (row.actor_id, row.outcome, row.ip) == (doctor.id, "denied", "203.0.113.7")


async def test_reuse_does_not_touch_other_logins(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    doctor = await accounts.make(Role.doctor)
    phone_login = await login(client, doctor)
    laptop_login = await login(client, doctor)
    await refresh(client, phone_login["refresh_token"])
    await refresh(client, phone_login["refresh_token"])
    assert (await client.get("/api/me", headers=bearer(laptop_login))).status_code == 200


async def test_concurrent_refreshes_with_one_token_let_one_through(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    tokens = await login(client, await accounts.make(Role.receptionist))
    answers = await asyncio.gather(*[refresh(client, tokens["refresh_token"]) for _ in range(10)])
    assert sorted(a.status_code for a in answers).count(200) <= 1
    winners = [a for a in answers if a.status_code == 200]
    assert len(winners) == 1
    # Every loser saw reuse and the login is revoked, the winner's tokens included.
    assert (await client.get("/api/me", headers=bearer(winners[0].json()))).status_code == 401


async def test_refresh_tokens_are_stored_hashed(
    client: httpx.AsyncClient, accounts: Accounts, session: AsyncSession
) -> None:
    tokens = await login(client, await accounts.make(Role.doctor))
    stored = (await session.scalars(select(RefreshToken.token_hash))).all()
    assert tokens["refresh_token"] not in stored
    assert len(stored) == 1


async def test_logout_ends_access_and_refresh(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    tokens = await login(client, await accounts.make(Role.doctor))
    response = await client.post("/api/auth/logout", headers=bearer(tokens))
    assert response.status_code == 204
    assert (await client.get("/api/me", headers=bearer(tokens))).status_code == 401
    assert (await refresh(client, tokens["refresh_token"])).status_code == 401


async def test_logout_with_only_the_refresh_token(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    tokens = await login(client, await accounts.make(Role.doctor))
    response = await client.post(
        "/api/auth/logout", json={"refresh_token": tokens["refresh_token"]}
    )
    assert response.status_code == 204
    assert (await refresh(client, tokens["refresh_token"])).status_code == 401


async def test_access_token_expires_after_15_minutes(
    client: httpx.AsyncClient, accounts: Accounts, frozen_clock: FrozenClock
) -> None:
    tokens = await login(client, await accounts.make(Role.doctor))
    frozen_clock.advance(minutes=14, seconds=59)
    assert (await client.get("/api/me", headers=bearer(tokens))).status_code == 200
    frozen_clock.advance(seconds=2)
    expired = await client.get("/api/me", headers=bearer(tokens))
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "invalid_token"
    assert (await refresh(client, tokens["refresh_token"])).status_code == 200


async def test_refresh_token_expires_after_30_days(
    client: httpx.AsyncClient, accounts: Accounts, frozen_clock: FrozenClock
) -> None:
    tokens = await login(client, await accounts.make(Role.doctor))
    frozen_clock.advance(days=30, seconds=1)
    assert (await refresh(client, tokens["refresh_token"])).status_code == 401


async def test_deactivation_stops_tokens_at_once(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    admin_tokens = await login(client, await accounts.make(Role.admin))
    doctor = await accounts.make(Role.doctor)
    doctor_tokens = await login(client, doctor)
    response = await client.patch(
        f"/api/admin/users/{doctor.id}", json={"is_active": False}, headers=bearer(admin_tokens)
    )
    assert response.status_code == 200
    assert (await client.get("/api/me", headers=bearer(doctor_tokens))).status_code == 401
    assert (await refresh(client, doctor_tokens["refresh_token"])).status_code == 401

    await client.patch(
        f"/api/admin/users/{doctor.id}", json={"is_active": True}, headers=bearer(admin_tokens)
    )
    # Reactivation does not resurrect the old login; the doctor signs in again.
    assert (await client.get("/api/me", headers=bearer(doctor_tokens))).status_code == 401
    assert (await login(client, doctor))["user"]["is_active"] is True


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        jwt.encode({"sub": "x", "sid": "y", "exp": 9999999999}, "w" * 40, "HS256"),
        "",
    ],
)
async def test_bad_tokens_are_refused(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"invalid_token", "authentication_required"}


async def test_me_without_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"


async def test_logout_works_with_an_expired_access_token(
    client: httpx.AsyncClient, accounts: Accounts, frozen_clock: FrozenClock
) -> None:
    tokens = await login(client, await accounts.make(Role.doctor))
    frozen_clock.advance(minutes=20)
    response = await client.post(
        "/api/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers=bearer(tokens),
    )
    assert response.status_code == 204
    assert (await refresh(client, tokens["refresh_token"])).status_code == 401
