"""The admin's staff pages, the invitee's page and the forced change-password page."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from tests.factories import Accounts, csrf_from, sign_in_page_staff

pytestmark = pytest.mark.usefixtures("app")

NEW_PASSWORD = "my own long password"


async def add_staff(client: httpx.AsyncClient, credential: str, **fields: str) -> str:
    page = await client.get("/admin/users")
    form = {
        "role": "doctor",
        "name": "Dr. Neema Wanjiru",
        "email": "neema@clinic.example.com",
        "phone": "",
        "credential": credential,
        "csrf_token": csrf_from(page.text),
        **fields,
    }
    response = await client.post("/admin/users", data=form)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.text


def secret(html: str, testid: str) -> str:
    match = re.search(rf'value="([^"]+)" readonly data-testid="{testid}"', html)
    assert match, html
    return match.group(1)


async def test_the_list_filters_by_role_and_search(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    admin = await accounts.make(Role.admin, name="Zawadi Admin")
    await accounts.make(Role.doctor, name="Dr. Baraka")
    await accounts.make(Role.receptionist, name="Amina Desk")
    await sign_in_page_staff(client, admin)
    doctors = await client.get("/admin/users", params={"role": "doctor"})
    assert "Dr. Baraka" in doctors.text
    assert "Amina Desk" not in doctors.text
    found = await client.get("/admin/users", params={"q": "amina"})
    assert "Amina Desk" in found.text
    assert "Dr. Baraka" not in found.text


async def test_temporary_password_leads_to_the_change_page_until_changed(
    client: httpx.AsyncClient, accounts: Accounts, session: AsyncSession
) -> None:
    await sign_in_page_staff(client, await accounts.make(Role.admin))
    temporary = secret(await add_staff(client, "temporary_password"), "temporary-password")
    client.cookies.clear()
    doctor = await session.scalar(select(User).where(User.email == "neema@clinic.example.com"))
    assert doctor is not None
    assert doctor.must_change_password
    await sign_in_page_staff(client, doctor, temporary)

    home = await client.get("/home")
    assert home.status_code == 303
    assert home.headers["location"] == "/password?next=/home"
    page = await client.get("/password", params={"next": "/home"})
    assert page.status_code == 200
    assert 'data-testid="forced"' in page.text
    token = csrf_from(page.text)
    mismatch = await client.post(
        "/password",
        data={
            "current_password": temporary,
            "password": NEW_PASSWORD,
            "repeated": "something else",
            "next": "/home",
            "csrf_token": token,
        },
    )
    assert mismatch.status_code == 422
    assert (await client.get("/home")).status_code == 303
    changed = await client.post(
        "/password",
        data={
            "current_password": temporary,
            "password": NEW_PASSWORD,
            "repeated": NEW_PASSWORD,
            "next": "/home",
            "csrf_token": token,
        },
    )
    assert changed.status_code == 303
    assert changed.headers["location"] == "/home"
    assert (await client.get("/home")).status_code == 200


async def test_an_invitation_page_works_once(
    client: httpx.AsyncClient, accounts: Accounts, session: AsyncSession
) -> None:
    await sign_in_page_staff(client, await accounts.make(Role.admin))
    link = secret(await add_staff(client, "invitation", role="receptionist"), "invitation-url")
    client.cookies.clear()
    path = "/invite/" + link.rsplit("/", 1)[1]
    page = await client.get(path)
    assert "Dr. Neema Wanjiru" in page.text
    assert 'data-testid="invite-form"' in page.text
    form = {"password": NEW_PASSWORD, "repeated": NEW_PASSWORD, "csrf_token": csrf_from(page.text)}
    accepted = await client.post(path, data=form)
    assert accepted.status_code == 303
    spent = await client.get(path)
    assert 'data-testid="invite-spent"' in spent.text
    again = await client.post(path, data=form)
    assert again.status_code == 400
    person = await session.scalar(select(User).where(User.email == "neema@clinic.example.com"))
    assert person is not None
    await sign_in_page_staff(client, person, NEW_PASSWORD)


async def test_the_user_page_changes_role_and_deactivates_after_confirming(
    client: httpx.AsyncClient, accounts: Accounts, session: AsyncSession
) -> None:
    await sign_in_page_staff(client, await accounts.make(Role.admin))
    doctor = await accounts.make(Role.doctor)
    page = await client.get(f"/admin/users/{doctor.id}")
    assert page.status_code == 200
    token = csrf_from(page.text)
    role = await client.post(
        f"/admin/users/{doctor.id}/role", data={"role": "receptionist", "csrf_token": token}
    )
    assert role.status_code == 303
    unconfirmed = await client.post(
        f"/admin/users/{doctor.id}/active", data={"active": "0", "csrf_token": token}
    )
    assert unconfirmed.status_code == 422
    confirmed = await client.post(
        f"/admin/users/{doctor.id}/active",
        data={"active": "0", "confirm": "yes", "csrf_token": token},
    )
    assert confirmed.status_code == 303
    stored = await session.get(User, doctor.id, populate_existing=True)
    assert stored is not None
    assert stored.role is Role.receptionist
    assert not stored.is_active
    reset = await client.post(
        f"/admin/users/{doctor.id}/reset-password",
        data={"credential": "temporary_password", "csrf_token": token},
    )
    assert reset.status_code == 200
    assert 'data-testid="temporary-password"' in reset.text


async def test_staff_pages_are_for_admins(client: httpx.AsyncClient, accounts: Accounts) -> None:
    doctor = await accounts.make(Role.doctor)
    await sign_in_page_staff(client, await accounts.make(Role.receptionist))
    assert (await client.get("/admin/users")).status_code == 403
    assert (await client.get(f"/admin/users/{doctor.id}")).status_code == 403
