"""A signed-out visit to a page sends the browser to the right sign-in: a patient's page to
the phone sign-in (and back to that page after it, once), any other to the staff sign-in."""

from __future__ import annotations

import httpx
import pytest

from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.factories import Accounts, csrf_from, latest_code

pytestmark = pytest.mark.usefixtures("app")


@pytest.mark.parametrize("path", ["/queue", "/book", "/records", "/me"])
async def test_a_patients_page_leads_to_the_phone_sign_in(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login/phone"
    assert client.cookies["cf_next"].strip('"') == path


@pytest.mark.parametrize("path", ["/appointments", "/consultations", "/admin/users"])
async def test_a_shared_or_staff_page_leads_to_the_staff_sign_in(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"
    assert "cf_next" not in client.cookies


async def test_after_the_phone_sign_in_the_patient_is_back_where_they_were_going_once(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    patient = await accounts.make(Role.patient)
    assert patient.phone
    await client.get("/book")
    form = await client.get("/login/phone")
    token = csrf_from(form.text)
    await client.post("/login/phone", data={"phone": patient.phone, "csrf_token": token})
    signed_in = await client.post(
        "/login/phone/verify",
        data={
            "phone": patient.phone,
            "code": latest_code(runtime, patient.phone),
            "csrf_token": token,
        },
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/book"
    assert "cf_next" not in client.cookies
