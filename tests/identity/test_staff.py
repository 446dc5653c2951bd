"""Staff accounts: invitation links, temporary passwords changed at first sign-in, password
resets, and the last active admin who cannot be removed (also under concurrent changes)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.core.audit import AuditEntry
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.identity import access
from clinicflow.identity import service as identity
from clinicflow.identity.models import Invitation, User
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.factories import Accounts, bearer, login

pytestmark = pytest.mark.usefixtures("app")

NEW_PASSWORD = "my own long password"


@pytest.fixture
async def admin_headers(client: httpx.AsyncClient, accounts: Accounts) -> dict[str, str]:
    return bearer(await login(client, await accounts.make(Role.admin)))


async def create(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {"role": "doctor", "name": "Dr. Neema Wanjiru", "email": "neema@clinic.example.com"}
    response = await client.post("/api/admin/users", json={**payload, **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def actions(session: AsyncSession, user_id: str) -> list[str]:
    rows = await session.scalars(
        select(AuditEntry.action).where(AuditEntry.resource_id == user_id).order_by(AuditEntry.seq)
    )
    return list(rows)


# --- invitation links ------------------------------------------------------------------------


async def test_an_invitation_link_sets_the_password_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession, settings: Any
) -> None:
    created = await create(client, admin_headers)
    assert created["role"] == "doctor"
    assert created["temporary_password"] is None
    url = created["invitation_url"]
    # No public address configured: the link points where the admin's request came to.
    assert url.startswith("http://testserver/invite/")
    token = token_of(url)
    stored = await session.scalar(select(Invitation.token_hash))
    assert stored is not None
    assert token not in stored

    accepted = await client.post(
        "/api/auth/invitation", json={"token": token, "password": NEW_PASSWORD}
    )
    assert accepted.status_code == 200, accepted.text
    assert (await sign_in(client, created["email"], NEW_PASSWORD)).status_code == 200

    again = await client.post(
        "/api/auth/invitation", json={"token": token, "password": "other pw!"}
    )
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_invitation"
    assert (await sign_in(client, created["email"], "other pw!")).status_code == 401
    assert await actions(session, created["id"]) == [
        "user.create",
        "user.credential_issued",
        "user.invitation_accept",
        "auth.login",
        "auth.login",  # the refused guess after the link was spent
    ]


async def test_an_invitation_link_expires(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    frozen_clock: clock.FrozenClock,
) -> None:
    created = await create(client, admin_headers)
    frozen_clock.advance(days=3, seconds=1)
    response = await client.post(
        "/api/auth/invitation",
        json={"token": token_of(created["invitation_url"]), "password": NEW_PASSWORD},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_invitation"


async def test_an_invited_account_cannot_sign_in_before_accepting(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await create(client, admin_headers, role="receptionist")
    for guess in ("", "password", created["invitation_url"]):
        assert (await sign_in(client, created["email"], guess or "x")).status_code == 401


# --- temporary passwords ---------------------------------------------------------------------


async def test_a_temporary_password_must_be_changed_first(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    created = await create(client, admin_headers, credential="temporary_password")
    temporary = created["temporary_password"]
    assert created["invitation_url"] is None
    assert len(temporary) >= 12

    signed_in = await sign_in(client, created["email"], temporary)
    assert signed_in.status_code == 200
    headers = bearer(signed_in.json())
    for method, path in (("GET", "/api/me"), ("GET", "/api/notifications")):
        refused = await client.request(method, path, headers=headers)
        assert refused.status_code == 403, path
        assert refused.json()["error"]["code"] == "password_change_required"

    wrong = await client.post(
        "/api/me/password",
        json={"current_password": "not it at all", "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "wrong_password"
    same = await client.post(
        "/api/me/password",
        json={"current_password": temporary, "new_password": temporary},
        headers=headers,
    )
    assert same.status_code == 422
    changed = await client.post(
        "/api/me/password",
        json={"current_password": temporary, "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert changed.status_code == 204, changed.text
    assert (await client.get("/api/me", headers=headers)).status_code == 200
    assert (await sign_in(client, created["email"], temporary)).status_code == 401
    assert "user.password_change" in await actions(session, created["id"])


async def test_signing_out_works_with_a_temporary_password(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await create(client, admin_headers, credential="temporary_password")
    tokens = (await sign_in(client, created["email"], created["temporary_password"])).json()
    response = await client.post(
        "/api/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=bearer(tokens)
    )
    assert response.status_code == 204


async def test_a_patient_is_not_given_a_password(
    client: httpx.AsyncClient, accounts: Accounts, admin_headers: dict[str, str]
) -> None:
    patient = await accounts.make(Role.patient)
    response = await client.post(
        f"/api/admin/users/{patient.id}/reset-password", json={}, headers=admin_headers
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "wrong_login_method"


# --- resets ----------------------------------------------------------------------------------


@pytest.mark.parametrize("credential", ["temporary_password", "invitation"])
async def test_a_reset_ends_the_old_password_and_every_login(
    client: httpx.AsyncClient,
    accounts: Accounts,
    admin_headers: dict[str, str],
    session: AsyncSession,
    credential: str,
) -> None:
    doctor = await accounts.make(Role.doctor)
    old = bearer(await login(client, doctor))
    response = await client.post(
        f"/api/admin/users/{doctor.id}/reset-password",
        json={"credential": credential},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == str(doctor.id)
    assert (await client.get("/api/me", headers=old)).status_code == 401
    assert doctor.email is not None
    assert (await sign_in(client, doctor.email, "correct horse battery")).status_code == 401
    if credential == "temporary_password":
        assert body["invitation_url"] is None
        assert (await sign_in(client, doctor.email, body["temporary_password"])).status_code == 200
    else:
        assert body["temporary_password"] is None
        accepted = await client.post(
            "/api/auth/invitation",
            json={"token": token_of(body["invitation_url"]), "password": NEW_PASSWORD},
        )
        assert accepted.status_code == 200
        assert (await sign_in(client, doctor.email, NEW_PASSWORD)).status_code == 200
    row = await session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "user.password_reset", AuditEntry.resource_id == str(doctor.id)
        )
    )
    assert row is not None
    assert row.details == {"credential": credential}


async def test_a_new_reset_link_replaces_the_old_one(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await create(client, admin_headers)
    reset = await client.post(
        f"/api/admin/users/{created['id']}/reset-password", json={}, headers=admin_headers
    )
    old = await client.post(
        "/api/auth/invitation",
        json={"token": token_of(created["invitation_url"]), "password": NEW_PASSWORD},
    )
    assert old.status_code == 400
    new = await client.post(
        "/api/auth/invitation",
        json={"token": token_of(reset.json()["invitation_url"]), "password": NEW_PASSWORD},
    )
    assert new.status_code == 200


async def test_only_an_admin_resets_a_password(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    doctor = await accounts.make(Role.doctor)
    receptionist = bearer(await login(client, await accounts.make(Role.receptionist)))
    response = await client.post(
        f"/api/admin/users/{doctor.id}/reset-password", json={}, headers=receptionist
    )
    assert response.status_code == 403
    anonymous = await client.post(f"/api/admin/users/{doctor.id}/reset-password", json={})
    assert anonymous.status_code == 401


async def test_creating_staff_refuses_bad_input(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for body in (
        {"role": "doctor", "name": "X", "email": "not an email"},
        {"role": "doctor", "name": "", "email": "x@clinic.example.com"},
        {"role": "doctor", "name": "X", "email": "x@clinic.example.com", "credential": "sms"},
    ):
        response = await client.post("/api/admin/users", json=body, headers=admin_headers)
        assert response.status_code == 422, body
    await create(client, admin_headers)
    taken = await client.post(
        "/api/admin/users",
        json={"role": "admin", "name": "Y", "email": "NEEMA@clinic.example.com"},
        headers=admin_headers,
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "email_taken"


# --- the last active admin -------------------------------------------------------------------


async def test_the_rule_refuses_to_remove_the_last_active_admin(
    runtime: Runtime, accounts: Accounts
) -> None:
    only = await accounts.make(Role.admin)
    doctor = await accounts.make(Role.doctor)
    async with runtime.transaction() as session:
        await access.require_another_active_admin(session, await session.get(User, doctor.id))
        with pytest.raises(AppError) as refused:
            await access.require_another_active_admin(session, await session.get(User, only.id))
    assert refused.value.code is ErrorCode.last_admin


async def test_a_role_change_of_an_admin_is_audited_and_leaves_one(
    client: httpx.AsyncClient, accounts: Accounts, session: AsyncSession
) -> None:
    first = await accounts.make(Role.admin)
    second = await accounts.make(Role.admin)
    headers = bearer(await login(client, first))
    demoted = await client.patch(
        f"/api/admin/users/{second.id}", json={"role": "receptionist"}, headers=headers
    )
    assert demoted.status_code == 200
    row = await session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "user.role_change", AuditEntry.resource_id == str(second.id)
        )
    )
    assert row is not None
    assert row.details == {"from": "admin", "to": "receptionist"}
    assert row.actor_id == first.id


CHANGES = {"demote": {"role": "doctor"}, "deactivate": {"is_active": False}}


@pytest.mark.parametrize(
    "kinds",
    [("demote", "demote"), ("deactivate", "deactivate"), ("demote", "deactivate")],
)
async def test_two_admins_removing_each_other_at_once_leave_one(
    client: httpx.AsyncClient, accounts: Accounts, session: AsyncSession, kinds: tuple[str, str]
) -> None:
    admins = [await accounts.make(Role.admin) for _ in range(2)]
    headers = [bearer(await login(client, admin)) for admin in admins]
    responses = await asyncio.gather(
        *(
            client.patch(
                f"/api/admin/users/{admins[1 - i].id}", json=CHANGES[kinds[i]], headers=headers[i]
            )
            for i in range(2)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses[0] == 200, [r.text for r in responses]
    assert statuses[1] in (401, 403, 409), [r.text for r in responses]
    assert await active_admins(session) == 1


async def test_a_ring_of_admins_removing_each_other_leaves_one(
    client: httpx.AsyncClient, accounts: Accounts, session: AsyncSession
) -> None:
    admins = [await accounts.make(Role.admin) for _ in range(4)]
    headers = [bearer(await login(client, admin)) for admin in admins]
    await asyncio.gather(
        *(
            client.patch(
                f"/api/admin/users/{admins[(i + 1) % 4].id}",
                json=CHANGES["demote" if i % 2 else "deactivate"],
                headers=headers[i],
            )
            for i in range(4)
        )
    )
    assert await active_admins(session) >= 1


async def active_admins(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.admin, User.is_active.is_(True))
    )
    return count or 0


SERVICE_CHANGES: dict[str, dict[str, Any]] = {
    "demote": {"role": Role.doctor},
    "deactivate": {"is_active": False},
}
REMOVAL = st.tuples(
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=3),
    st.sampled_from(sorted(CHANGES)),
)


@examples(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(admins=st.integers(min_value=2, max_value=4), removals=st.lists(REMOVAL, max_size=6))
async def test_concurrent_removals_always_leave_an_active_admin(
    runtime: Runtime,
    accounts: Accounts,
    session: AsyncSession,
    admins: int,
    removals: list[tuple[int, int, str]],
) -> None:
    """Any admins removing any others, all at once, each in its own transaction: at least
    one active admin remains."""
    group = [await accounts.make(Role.admin) for _ in range(admins)]
    # The admins earlier examples left are removed first, so this group is the clinic's.
    earlier = await session.scalars(
        select(User.id).where(
            User.role == Role.admin,
            User.is_active.is_(True),
            User.id.not_in([a.id for a in group]),
        )
    )
    for stale in list(earlier):
        async with runtime.transaction() as tx:
            actor = await tx.get(User, group[0].id)
            assert actor is not None
            await identity.update_user(
                session=tx, actor=actor, user_id=stale, changes={"is_active": False}
            )

    async def remove(actor_index: int, target_index: int, kind: str) -> None:
        actor_id = group[actor_index % admins].id
        target_id = group[target_index % admins].id
        with contextlib.suppress(AppError):
            async with runtime.transaction() as tx:
                actor = await tx.get(User, actor_id)
                assert actor is not None
                access.require_user_manager(actor)
                await identity.update_user(
                    session=tx, actor=actor, user_id=target_id, changes=SERVICE_CHANGES[kind]
                )

    await asyncio.gather(*(remove(*removal) for removal in removals))
    assert await active_admins(session) >= 1
