"""Admins create, edit, deactivate and reactivate accounts and change roles."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import AuditEntry
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.factories import PASSWORD, Accounts, bearer, login

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
async def admin_headers(client: httpx.AsyncClient, accounts: Accounts) -> dict[str, str]:
    return bearer(await login(client, await accounts.make(Role.admin)))


# --- the role matrix --------------------------------------------------------------------------

ADMIN_ROUTES = [
    ("GET", "/api/admin/users", None),
    (
        "POST",
        "/api/admin/users",
        {
            "role": "receptionist",
            "name": "New",
            "email": "n@clinic.example.com",
            "password": "long enough",
        },
    ),
    ("GET", "/api/admin/users/{target}", None),
    ("PATCH", "/api/admin/users/{target}", {"name": "Renamed"}),
]
EXPECTED = {"anonymous": 401, "patient": 403, "doctor": 403, "receptionist": 403, "admin": None}
SUCCESS = {"GET": 200, "POST": 201, "PATCH": 200}


@pytest.mark.parametrize(("method", "path", "payload"), ADMIN_ROUTES)
@pytest.mark.parametrize("caller", list(EXPECTED))
async def test_role_matrix(
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    caller: str,
    method: str,
    path: str,
    payload: dict[str, Any] | None,
) -> None:
    target = await accounts.make(Role.doctor)
    headers: dict[str, str] = {}
    if caller == "patient":
        from tests.factories import latest_code

        patient = await accounts.make(Role.patient)
        await client.post("/api/auth/otp/request", json={"phone": patient.phone})
        code = latest_code(runtime, patient.phone or "")
        verified = await client.post(
            "/api/auth/otp/verify", json={"phone": patient.phone, "code": code}
        )
        headers = bearer(verified.json())
    elif caller != "anonymous":
        headers = bearer(await login(client, await accounts.make(Role(caller))))

    response = await client.request(
        method, path.format(target=target.id), json=payload, headers=headers
    )
    expected = EXPECTED[caller] or SUCCESS[method]
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.json()["error"]["code"] in {"authentication_required", "forbidden"}


# --- creating ---------------------------------------------------------------------------------


async def test_create_doctor_with_profile(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/admin/users",
        json={
            "role": "doctor",
            "name": "Dr. Neema",
            "email": "neema@clinic.example.com",
            "password": "long enough",
            "specialty": "Paediatrics",
            "timezone": "Africa/Dar_es_Salaam",
            "consultation_minutes": 20,
            "bio": "Children's health.",
            "meet_url": "https://meet.google.com/abc-defg-hij",
            "registration_number": " KMPDC/A1234 ",
        },
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    doctor = response.json()
    assert doctor["doctor"] == {
        "specialty": "Paediatrics",
        "bio": "Children's health.",
        "timezone": "Africa/Dar_es_Salaam",
        "consultation_minutes": 20,
        "meet_url": "https://meet.google.com/abc-defg-hij",
        "registration_number": "KMPDC/A1234",
        "specialty_id": None,
        "languages": [],
        "consultation_types": [],
        "photo": None,
    }
    assert doctor["patient"] is None
    assert (await login_as(client, "neema@clinic.example.com", "long enough")).status_code == 200


async def login_as(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def test_create_patient_with_profile(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/admin/users",
        json={
            "role": "patient",
            "name": "Baraka",
            "phone": "+254700111222",
            "date_of_birth": "2017-09-03",
            "patient_type": "child",
            "preferred_language": "sw",
        },
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["patient"] == {
        "date_of_birth": "2017-09-03",
        "patient_type": "child",
        "preferred_language": "sw",
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        # Staff with an email but no password get an invitation (test_staff.py); with
        # neither there is no way to sign in.
        ({"role": "doctor", "name": "X"}, None),
        ({"role": "patient", "name": "X"}, None),
        ({"role": "nurse", "name": "X"}, "role"),
        (
            {
                "role": "doctor",
                "name": "",
                "email": "x@clinic.example.com",
                "password": "long enough",
            },
            "name",
        ),
        (
            {"role": "doctor", "name": "X", "email": "not-an-email", "password": "long enough"},
            "email",
        ),
        (
            {"role": "doctor", "name": "X", "email": "x@clinic.example.com", "password": "short"},
            "password",
        ),
        (
            {
                "role": "doctor",
                "name": "X",
                "email": "x@clinic.example.com",
                "password": "long enough",
                "timezone": "Mars/Olympus",
            },
            "timezone",
        ),
        (
            {
                "role": "doctor",
                "name": "X",
                "email": "x@clinic.example.com",
                "password": "long enough",
                "consultation_minutes": 2,
            },
            "consultation_minutes",
        ),
        (
            {"role": "patient", "name": "X", "phone": "+254700111222", "patient_type": "vip"},
            "patient_type",
        ),
        (
            {"role": "patient", "name": "X", "phone": "+254700111222", "preferred_language": "fr"},
            "preferred_language",
        ),
        (
            {
                "role": "patient",
                "name": "X",
                "phone": "+254700111222",
                "date_of_birth": "2999-01-01",
            },
            None,
        ),
        ({"role": "patient", "name": "X", "phone": "+254700111222", "shoe_size": 42}, "shoe_size"),
    ],
)
async def test_create_refuses_bad_input(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    payload: dict[str, Any],
    field: str | None,
) -> None:
    response = await client.post("/api/admin/users", json=payload, headers=admin_headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    if field:
        assert any(field in problem["loc"] for problem in error["details"]["errors"])


async def test_duplicate_email_and_phone_are_409(
    client: httpx.AsyncClient, accounts: Accounts, admin_headers: dict[str, str]
) -> None:
    doctor = await accounts.make(Role.doctor)
    patient = await accounts.make(Role.patient)
    same_email = await client.post(
        "/api/admin/users",
        json={
            "role": "receptionist",
            "name": "R",
            "email": doctor.email.upper(),
            "password": PASSWORD,
        },  # type: ignore[union-attr]
        headers=admin_headers,
    )
    same_phone = await client.post(
        "/api/admin/users",
        json={"role": "patient", "name": "P", "phone": patient.phone},
        headers=admin_headers,
    )
    assert (same_email.status_code, same_email.json()["error"]["code"]) == (409, "email_taken")
    assert (same_phone.status_code, same_phone.json()["error"]["code"]) == (409, "phone_taken")


# --- editing ----------------------------------------------------------------------------------


async def test_patch_name_and_profile_fields(
    client: httpx.AsyncClient, accounts: Accounts, admin_headers: dict[str, str]
) -> None:
    doctor = await accounts.make(Role.doctor)
    response = await client.patch(
        f"/api/admin/users/{doctor.id}",
        json={"name": "Dr. Renamed", "specialty": "Dermatology", "consultation_minutes": 10},
        headers=admin_headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Dr. Renamed"
    assert body["doctor"]["specialty"] == "Dermatology"
    assert body["doctor"]["consultation_minutes"] == 10
    assert body["doctor"]["timezone"] == "UTC"
    fetched = await client.get(f"/api/admin/users/{doctor.id}", headers=admin_headers)
    assert fetched.json() == body


async def test_role_change_is_audited_and_takes_effect(
    client: httpx.AsyncClient,
    accounts: Accounts,
    admin_headers: dict[str, str],
    session: AsyncSession,
) -> None:
    receptionist = await accounts.make(Role.receptionist)
    tokens = await login(client, receptionist)
    assert (await client.get("/api/admin/users", headers=bearer(tokens))).status_code == 403

    response = await client.patch(
        f"/api/admin/users/{receptionist.id}", json={"role": "admin"}, headers=admin_headers
    )
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    # The same token now carries admin rights: roles are read from the database each time.
    assert (await client.get("/api/admin/users", headers=bearer(tokens))).status_code == 200

    row = (
        await session.scalars(select(AuditEntry).where(AuditEntry.action == "user.role_change"))
    ).one()
    assert row.resource_id == str(receptionist.id)
    assert row.details == {"from": "receptionist", "to": "admin"}


async def test_role_change_to_doctor_creates_a_doctor_profile(
    client: httpx.AsyncClient, accounts: Accounts, admin_headers: dict[str, str]
) -> None:
    receptionist = await accounts.make(Role.receptionist)
    response = await client.patch(
        f"/api/admin/users/{receptionist.id}",
        json={"role": "doctor", "specialty": "Cardiology"},
        headers=admin_headers,
    )
    assert response.status_code == 200
    assert response.json()["doctor"]["specialty"] == "Cardiology"


async def test_a_staff_account_without_phone_cannot_become_a_patient(
    client: httpx.AsyncClient, accounts: Accounts, admin_headers: dict[str, str]
) -> None:
    receptionist = await accounts.make(Role.receptionist)
    response = await client.patch(
        f"/api/admin/users/{receptionist.id}", json={"role": "patient"}, headers=admin_headers
    )
    assert response.status_code == 422
    unchanged = await client.get(f"/api/admin/users/{receptionist.id}", headers=admin_headers)
    assert unchanged.json()["role"] == "receptionist"


async def test_deactivate_and_reactivate_are_audited(
    client: httpx.AsyncClient,
    accounts: Accounts,
    admin_headers: dict[str, str],
    session: AsyncSession,
) -> None:
    doctor = await accounts.make(Role.doctor)
    off = await client.patch(
        f"/api/admin/users/{doctor.id}", json={"is_active": False}, headers=admin_headers
    )
    assert off.json()["is_active"] is False
    on = await client.patch(
        f"/api/admin/users/{doctor.id}", json={"is_active": True}, headers=admin_headers
    )
    assert on.json()["is_active"] is True
    actions = (
        await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.resource_id == str(doctor.id))
            .order_by(AuditEntry.seq)
        )
    ).all()
    assert actions[-2:] == ["user.deactivate", "user.activate"]


async def test_admin_cannot_lock_themselves_out(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    admin = await accounts.make(Role.admin)
    headers = bearer(await login(client, admin))
    for change in ({"is_active": False}, {"role": "doctor"}):
        response = await client.patch(f"/api/admin/users/{admin.id}", json=change, headers=headers)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "cannot_modify_self"
    assert (await client.get("/api/me", headers=headers)).json()["role"] == "admin"


async def test_unknown_user_is_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    missing = await client.get(f"/api/admin/users/{uuid.uuid4()}", headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    malformed = await client.get("/api/admin/users/not-a-uuid", headers=admin_headers)
    assert malformed.status_code == 422


async def test_list_filters_and_paginates(
    client: httpx.AsyncClient, accounts: Accounts, admin_headers: dict[str, str]
) -> None:
    for _ in range(3):
        await accounts.make(Role.doctor)
    await accounts.make(Role.patient, name="Zawadi Search-Me")
    doctors = await client.get("/api/admin/users", params={"role": "doctor"}, headers=admin_headers)
    assert doctors.json()["total"] == 3
    assert {u["role"] for u in doctors.json()["items"]} == {"doctor"}

    page = await client.get(
        "/api/admin/users", params={"limit": 2, "offset": 0}, headers=admin_headers
    )
    rest = await client.get(
        "/api/admin/users", params={"limit": 2, "offset": 2}, headers=admin_headers
    )
    ids = [u["id"] for u in page.json()["items"] + rest.json()["items"]]
    assert page.json()["total"] == 5
    assert len(ids) == len(set(ids)) == 4

    found = await client.get("/api/admin/users", params={"q": "search-me"}, headers=admin_headers)
    assert [u["name"] for u in found.json()["items"]] == ["Zawadi Search-Me"]
    too_big = await client.get("/api/admin/users", params={"limit": 1000}, headers=admin_headers)
    assert too_big.status_code == 422


async def test_other_edits_are_audited_by_field_name_only(
    client: httpx.AsyncClient,
    accounts: Accounts,
    admin_headers: dict[str, str],
    session: AsyncSession,
) -> None:
    doctor = await accounts.make(Role.doctor)
    await client.patch(
        f"/api/admin/users/{doctor.id}",
        json={"name": "Dr. New", "password": "a brand new password", "bio": "Hello"},
        headers=admin_headers,
    )
    row = (
        await session.scalars(select(AuditEntry).where(AuditEntry.action == "user.update"))
    ).one()
    assert row.details == {"fields": ["bio", "name", "password"]}
    assert "a brand new password" not in str(row.details)


async def test_a_password_reset_ends_the_users_logins(
    client: httpx.AsyncClient, accounts: Accounts, admin_headers: dict[str, str]
) -> None:
    doctor = await accounts.make(Role.doctor)
    tokens = await login(client, doctor)
    await client.patch(
        f"/api/admin/users/{doctor.id}",
        json={"password": "a brand new password"},
        headers=admin_headers,
    )
    assert (await client.get("/api/me", headers=bearer(tokens))).status_code == 401
    assert (await login(client, doctor, "a brand new password"))["user"]["id"] == str(doctor.id)


async def test_an_admin_may_send_a_null_role_when_editing_themself(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    admin = await accounts.make(Role.admin)
    headers = bearer(await login(client, admin))
    response = await client.patch(
        f"/api/admin/users/{admin.id}",
        json={"role": None, "name": "Renamed Admin"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed Admin"


async def test_search_treats_wildcards_as_text(
    client: httpx.AsyncClient, accounts: Accounts, admin_headers: dict[str, str]
) -> None:
    await accounts.make(Role.patient, name="Ten% Discount")
    await accounts.make(Role.patient, name="Tenfold")
    found = await client.get("/api/admin/users", params={"q": "ten%"}, headers=admin_headers)
    assert [u["name"] for u in found.json()["items"]] == ["Ten% Discount"]


async def test_an_absurd_offset_is_refused_not_crashed(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/api/admin/users", params={"offset": 2**63}, headers=admin_headers)
    assert response.status_code == 422


@pytest.mark.parametrize("field", ["name", "specialty", "bio"])
async def test_control_characters_are_refused_on_every_database(
    client: httpx.AsyncClient, admin_headers: dict[str, str], field: str
) -> None:
    """PostgreSQL cannot store NUL; SQLite could. Both refuse it with the same 422."""
    payload = {
        "role": "doctor",
        "name": "Dr. Ok",
        "email": "ok@clinic.example.com",
        "password": "long enough",
        field: "bad\x00value",
    }
    response = await client.post("/api/admin/users", json=payload, headers=admin_headers)
    assert response.status_code == 422
    search = await client.get("/api/admin/users", params={"q": "a\x00b"}, headers=admin_headers)
    assert search.status_code == 422


async def test_an_admins_changes_store_the_address_they_came_from(
    client: httpx.AsyncClient,
    accounts: Accounts,
    admin_headers: dict[str, str],
    session: AsyncSession,
) -> None:
    """The verbs take no address: the request binds it to the unit of work, and every audit
    row written in that transaction carries it (the test client is 203.0.113.7)."""
    created = await client.post(
        "/api/admin/users",
        json={
            "role": "receptionist",
            "name": "New Desk",
            "email": "desk@clinic.example.com",
            "password": "long enough",
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    changed = await client.patch(
        f"/api/admin/users/{created.json()['id']}",
        json={"role": "admin", "name": "New Admin", "is_active": False},
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.text
    rows = (
        await session.execute(
            select(AuditEntry.action, AuditEntry.ip)
            .where(AuditEntry.resource_id == created.json()["id"])
            .order_by(AuditEntry.seq)
        )
    ).all()
    assert [tuple(row) for row in rows] == [
        ("user.create", "203.0.113.7"),
        ("user.role_change", "203.0.113.7"),
        ("user.deactivate", "203.0.113.7"),
        ("user.update", "203.0.113.7"),
    ]
