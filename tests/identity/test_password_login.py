"""Staff sign in with email and password; guesses are throttled and audited."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from tests.factories import PASSWORD, Accounts, bearer, login

pytestmark = pytest.mark.usefixtures("app")


async def test_staff_login_returns_tokens_and_user(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    doctor = await accounts.make(Role.doctor, profile={"specialty": "Paediatrics"})
    response = await client.post(
        "/api/auth/login", json={"email": doctor.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"access_token", "refresh_token", "token_type", "user"}
    assert body["token_type"] == "bearer"
    assert body["user"]["id"] == str(doctor.id)
    assert body["user"]["role"] == "doctor"
    assert body["user"]["doctor"]["specialty"] == "Paediatrics"
    assert body["user"]["doctor"]["consultation_minutes"] == 15

    me = await client.get("/api/me", headers=bearer(body))
    assert me.status_code == 200
    assert me.json()["email"] == doctor.email


async def test_email_is_case_insensitive(client: httpx.AsyncClient, accounts: Accounts) -> None:
    admin = await accounts.make(Role.admin, email="Grace@Clinic.Example.com")
    assert admin.email == "grace@clinic.example.com"
    response = await client.post(
        "/api/auth/login", json={"email": "GRACE@clinic.example.com", "password": PASSWORD}
    )
    assert response.status_code == 200


async def test_wrong_email_and_wrong_password_look_the_same(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    receptionist = await accounts.make(Role.receptionist)
    wrong_password = await client.post(
        "/api/auth/login", json={"email": receptionist.email, "password": "not the password"}
    )
    wrong_email = await client.post(
        "/api/auth/login", json={"email": "nobody@clinic.example.com", "password": PASSWORD}
    )
    assert wrong_password.status_code == wrong_email.status_code == 401
    assert wrong_password.json() == wrong_email.json()
    assert wrong_password.json()["error"]["code"] == "invalid_credentials"


async def test_patients_cannot_use_password_login(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    patient = await accounts.make(Role.patient, email="pat@clinic.example.com", password=PASSWORD)
    response = await client.post(
        "/api/auth/login", json={"email": patient.email, "password": PASSWORD}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


async def test_failed_and_successful_logins_are_audited(
    client: httpx.AsyncClient, accounts: Accounts, session: AsyncSession
) -> None:
    doctor = await accounts.make(Role.doctor)
    await client.post("/api/auth/login", json={"email": doctor.email, "password": "nope-nope"})
    await login(client, doctor)
    rows = (
        await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "auth.login").order_by(AuditEntry.seq)
        )
    ).all()
    assert [(r.outcome, r.actor_id, r.ip) for r in rows] == [
        ("failure", doctor.id, "203.0.113.7"),
        ("success", doctor.id, "203.0.113.7"),
    ]


async def test_account_is_locked_after_repeated_failures_with_retry_after(
    client: httpx.AsyncClient, accounts: Accounts, frozen_clock: FrozenClock
) -> None:
    doctor = await accounts.make(Role.doctor)
    for _ in range(5):
        response = await client.post(
            "/api/auth/login", json={"email": doctor.email, "password": "wrong-password"}
        )
        assert response.status_code == 401
    locked = await client.post(
        "/api/auth/login", json={"email": doctor.email, "password": PASSWORD}
    )
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "rate_limited"
    retry_after = int(locked.headers["Retry-After"])
    assert 0 < retry_after <= 15 * 60

    frozen_clock.advance(seconds=retry_after)
    again = await client.post("/api/auth/login", json={"email": doctor.email, "password": PASSWORD})
    assert again.status_code == 200


async def test_ip_is_throttled_across_accounts(
    client: httpx.AsyncClient, accounts: Accounts, frozen_clock: FrozenClock
) -> None:
    doctor = await accounts.make(Role.doctor)
    for n in range(30):
        response = await client.post(
            "/api/auth/login", json={"email": f"guess{n}@clinic.example.com", "password": "x"}
        )
        assert response.status_code == 401
    blocked = await client.post(
        "/api/auth/login", json={"email": doctor.email, "password": PASSWORD}
    )
    assert blocked.status_code == 429
    assert "Retry-After" in blocked.headers


async def test_a_success_clears_the_account_failure_count(
    client: httpx.AsyncClient, accounts: Accounts, frozen_clock: FrozenClock
) -> None:
    doctor = await accounts.make(Role.doctor)
    for _ in range(4):
        await client.post("/api/auth/login", json={"email": doctor.email, "password": "wrong-pw"})
    await login(client, doctor)
    for _ in range(4):
        response = await client.post(
            "/api/auth/login", json={"email": doctor.email, "password": "wrong-pw"}
        )
        assert response.status_code == 401


async def test_deactivated_staff_cannot_log_in(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    doctor = await accounts.make(Role.doctor)
    admin = await accounts.make(Role.admin)
    tokens = await login(client, admin)
    await client.patch(
        f"/api/admin/users/{doctor.id}", json={"is_active": False}, headers=bearer(tokens)
    )
    response = await client.post(
        "/api/auth/login", json={"email": doctor.email, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_inactive"


async def test_concurrent_guesses_cannot_exceed_the_account_limit(
    client: httpx.AsyncClient, accounts: Accounts, frozen_clock: FrozenClock
) -> None:
    doctor = await accounts.make(Role.doctor)
    answers = await asyncio.gather(
        *[
            client.post("/api/auth/login", json={"email": doctor.email, "password": f"guess-{n}"})
            for n in range(20)
        ]
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * 5 + [429] * 15
