"""A patient changes their own contact details and language (`PUT /api/me` and the `/me`
page); another account's phone is never theirs to take, and a refusal loses nothing."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic import phones
from clinicflow.core.audit import AuditEntry
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic
from tests.factories import Accounts, csrf_from, sign_in_page_patient, sign_in_page_staff

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def clinic(client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime) -> Clinic:
    return Clinic(client, accounts, runtime)


async def test_a_patient_changes_their_details_and_language(
    clinic: Clinic, runtime: Runtime, session: AsyncSession
) -> None:
    patient = await clinic.patient()
    before = (await clinic.client.get("/api/me", headers=patient.headers)).json()
    changed = await clinic.client.put(
        "/api/me",
        json={
            "name": "Amina Hassan",
            "phone": "+254 799 000 111",
            "email": "Amina@Example.com",
            "preferred_language": "sw",
        },
        headers=patient.headers,
    )
    assert changed.status_code == 200, changed.text
    after = changed.json()
    # The same shape as GET /api/me, with the new values.
    assert set(after) == set(before)
    assert (after["name"], after["phone"], after["email"]) == (
        "Amina Hassan",
        "+254799000111",
        "amina@example.com",
    )
    assert after["patient"]["preferred_language"] == "sw"
    assert (await clinic.client.get("/api/me", headers=patient.headers)).json() == after

    # The language is effective: the next sign-in code is texted in Swahili, to the new phone.
    await clinic.client.post("/api/auth/otp/request", json={"phone": "+254799000111"})
    assert runtime.outbox is not None
    text = runtime.outbox.messages()[0]
    assert text.to == "+254799000111"
    assert "expires" not in text.body

    # A field left out is kept; the audit row names the fields, never their values.
    kept = await clinic.client.put("/api/me", json={"name": "Amina H."}, headers=patient.headers)
    assert (kept.json()["phone"], kept.json()["email"]) == ("+254799000111", "amina@example.com")
    rows = list(
        await session.scalars(select(AuditEntry).where(AuditEntry.action == "user.update_self"))
    )
    assert [r.details for r in rows] == [
        {"fields": ["name", "phone", "email", "preferred_language"]},
        {"fields": ["name"]},
    ]
    assert "+254799000111" not in str([r.details for r in rows])


async def test_another_accounts_phone_or_a_bad_phone_is_refused_and_nothing_changes(
    clinic: Clinic, accounts: Accounts
) -> None:
    patient, other = await clinic.patient(), await clinic.patient()
    doctor = await accounts.make(Role.doctor, phone="+254788000222")
    me = (await clinic.client.get("/api/me", headers=patient.headers)).json()
    refusals = {
        "another patient's phone": ({"name": "New", "phone": other.user.phone}, 409),
        "a doctor's phone": ({"name": "New", "phone": doctor.phone}, 409),
        "a bad phone": ({"name": "New", "phone": "0711 abc"}, 422),
        "no phone": ({"name": "New", "phone": None}, 422),
        "an empty name": ({"name": "  "}, 422),
        "a bad email": ({"name": "New", "email": "not an email"}, 422),
        "an unknown field": ({"role": "admin"}, 422),
    }
    for why, (body, status) in refusals.items():
        response = await clinic.client.put("/api/me", json=body, headers=patient.headers)
        assert response.status_code == status, (why, response.text)
    assert (await clinic.client.get("/api/me", headers=patient.headers)).json() == me
    taken = await clinic.client.put(
        "/api/me", json={"phone": other.user.phone}, headers=patient.headers
    )
    assert taken.json()["error"]["code"] == "phone_taken"


async def test_staff_change_their_account_through_an_administrator(clinic: Clinic) -> None:
    doctor = await clinic.doctor()
    refused = await clinic.client.put("/api/me", json={"name": "Dr. X"}, headers=doctor.headers)
    assert refused.status_code == 403
    assert (await clinic.client.put("/api/me", json={"name": "X"})).status_code == 401


async def test_the_my_details_page_saves_and_keeps_what_was_typed_on_a_refusal(
    clinic: Clinic, client: httpx.AsyncClient, runtime: Runtime, accounts: Accounts
) -> None:
    other = await accounts.make(Role.patient)
    patient = await accounts.make(Role.patient, name="Baraka")
    await sign_in_page_patient(client, runtime, patient)
    page = await client.get("/me")
    assert page.status_code == 200
    assert 'data-testid="me-phone"' in page.text
    assert patient.phone is not None
    assert phones.shown(patient.phone) in page.text  # national format

    form = {
        "phone": str(other.phone),
        "name": "Baraka Mutua",
        "email": "baraka@example.com",
        "preferred_language": "sw",
        "csrf_token": csrf_from(page.text),
    }
    refused = await client.post("/me", data=form)
    assert refused.status_code == 409
    assert 'data-testid="form-error"' in refused.text
    for typed in ("Baraka Mutua", "baraka@example.com", phones.shown(other.phone)):
        assert typed in refused.text

    bad = await client.post("/me", data={**form, "phone": "07"})
    assert bad.status_code == 422
    assert "Baraka Mutua" in bad.text

    saved = await client.post("/me", data={**form, "phone": "+254 700 123 456"})
    assert saved.status_code == 303
    assert client.cookies.get("cf_lang") == "sw"
    again = await client.get("/me?saved=1")
    assert '<html lang="sw">' in again.text
    assert "0700 123456" in again.text
    assert "Baraka Mutua" in again.text


async def test_the_my_details_page_is_for_patients(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    await sign_in_page_staff(client, await accounts.make(Role.receptionist))
    assert (await client.get("/me")).status_code == 403
