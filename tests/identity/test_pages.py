"""Sign-in pages: session cookie flags, CSRF on every form, redirects, sign-out."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import AuditEntry
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.factories import PASSWORD, Accounts, csrf_from, latest_code

pytestmark = pytest.mark.usefixtures("app")


async def sign_in(client: httpx.AsyncClient, user: User) -> httpx.Response:
    form = await client.get("/login")
    return await client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_from(form.text)},
    )


async def test_staff_sign_in_sets_a_safe_session_cookie(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    response = await sign_in(client, await accounts.make(Role.doctor))
    assert response.status_code == 303
    assert response.headers["location"] == "/home"
    cookie = next(
        value for key, value in response.headers.multi_items() if value.startswith("cf_session=")
    )
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie
    home = await client.get("/home")
    assert home.status_code == 200
    assert "Doctor" in home.text


async def test_session_cookie_is_secure_on_https(app: object, accounts: Accounts) -> None:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://clinic.test") as client:
        response = await sign_in(client, await accounts.make(Role.doctor))
    cookie = next(
        value for key, value in response.headers.multi_items() if value.startswith("cf_session=")
    )
    assert "Secure" in cookie


@pytest.mark.parametrize("token", [None, "forged-token"])
async def test_forms_without_the_csrf_token_are_refused(
    client: httpx.AsyncClient, accounts: Accounts, token: str | None
) -> None:
    doctor = await accounts.make(Role.doctor)
    await client.get("/login")
    data = {"email": doctor.email or "", "password": PASSWORD}
    if token:
        data["csrf_token"] = token
    response = await client.post("/login", data=data, headers={"accept": "text/html"})
    assert response.status_code == 403
    assert "cf_session" not in response.headers.get("set-cookie", "")


async def test_wrong_password_shows_the_error_on_the_form(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    doctor = await accounts.make(Role.doctor)
    form = await client.get("/login")
    response = await client.post(
        "/login",
        data={"email": doctor.email, "password": "wrong-one", "csrf_token": csrf_from(form.text)},
    )
    assert response.status_code == 401
    assert "Email or password is incorrect." in response.text
    assert "cf_session" not in response.headers.get("set-cookie", "")


async def test_a_failed_sign_in_on_the_form_stores_the_browsers_address(
    client: httpx.AsyncClient, accounts: Accounts, session: AsyncSession
) -> None:
    """The refusal's audit row is kept, with the address the page's request came from."""
    doctor = await accounts.make(Role.doctor)
    form = await client.get("/login")
    await client.post(
        "/login",
        data={"email": doctor.email, "password": "wrong-one", "csrf_token": csrf_from(form.text)},
    )
    row = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.login"))).one()
    assert (row.outcome, row.actor_id, row.ip) == ("failure", doctor.id, "203.0.113.7")


async def test_pages_need_a_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/home")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/home"
    assert (await client.get("/")).headers["location"] == "/login"


async def test_sign_in_returns_to_next_but_never_off_site(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    doctor = await accounts.make(Role.doctor)
    for target, expected in (("/admin/users", "/admin/users"), ("//evil.example", "/home")):
        client.cookies.clear()
        form = await client.get("/login")
        response = await client.post(
            "/login",
            data={
                "email": doctor.email,
                "password": PASSWORD,
                "csrf_token": csrf_from(form.text),
                "next": target,
            },
        )
        assert response.headers["location"] == expected


async def test_sign_out_ends_the_session(client: httpx.AsyncClient, accounts: Accounts) -> None:
    await sign_in(client, await accounts.make(Role.receptionist))
    stolen = client.cookies.get("cf_session")
    home = await client.get("/home")
    response = await client.post("/logout", data={"csrf_token": csrf_from(home.text)})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert (await client.get("/home")).status_code == 303
    # The old cookie value is dead on the server too, not only forgotten by the browser.
    assert stolen
    client.cookies.set("cf_session", stolen)
    assert (await client.get("/api/me")).status_code == 401


async def test_cookie_authenticated_api_writes_need_the_csrf_header(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    await sign_in(client, await accounts.make(Role.admin))
    assert (await client.get("/api/me")).status_code == 200
    refused = await client.post("/api/auth/logout")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    token = client.cookies.get("cf_csrf") or ""
    allowed = await client.post("/api/auth/logout", headers={"X-CSRF-Token": token})
    assert allowed.status_code == 204


async def test_patient_phone_sign_in_pages(client: httpx.AsyncClient, runtime: Runtime) -> None:
    form = await client.get("/login/phone")
    sent = await client.post(
        "/login/phone", data={"phone": "+254 711 000 222", "csrf_token": csrf_from(form.text)}
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == "/login/phone/verify?phone=%2B254711000222"
    verify_page = await client.get(sent.headers["location"])
    code = latest_code(runtime, "+254711000222")
    data = {"phone": "+254711000222", "code": code, "csrf_token": csrf_from(verify_page.text)}
    nameless = await client.post("/login/phone/verify", data=data)
    assert nameless.status_code == 422
    assert 'name="name"' in nameless.text
    assert "required" in nameless.text.split('name="name"')[1].split(">")[0]
    named = await client.post("/login/phone/verify", data={**data, "name": "Juma Omondi"})
    assert named.status_code == 303
    home = await client.get("/home")
    assert "Juma Omondi" in home.text


async def test_bad_phone_on_the_page_is_explained(client: httpx.AsyncClient) -> None:
    form = await client.get("/login/phone")
    response = await client.post(
        "/login/phone", data={"phone": "0711", "csrf_token": csrf_from(form.text)}
    )
    assert response.status_code == 422
    assert "Enter your phone number, like 0712 123456." in response.text


async def test_admin_users_page_is_for_admins(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    await sign_in(client, await accounts.make(Role.doctor))
    refused = await client.get("/admin/users", headers={"accept": "text/html"})
    assert refused.status_code == 403
    client.cookies.clear()
    admin = await accounts.make(Role.admin, name="Grace Admin")
    await sign_in(client, admin)
    page = await client.get("/admin/users")
    assert page.status_code == 200
    assert "Grace Admin" in page.text


async def test_language_switch_sets_a_cookie_and_translates(client: httpx.AsyncClient) -> None:
    form = await client.get("/login")
    assert '<html lang="en">' in form.text
    switched = await client.post(
        "/lang", data={"lang": "sw", "next": "/login", "csrf_token": csrf_from(form.text)}
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == "/login"
    swahili = await client.get("/login")
    assert '<html lang="sw">' in swahili.text
    assert "Staff sign in" not in swahili.text


async def sign_in_by_code(
    client: httpx.AsyncClient, runtime: Runtime, phone: str, name: str | None = None
) -> httpx.Response:
    form = await client.get("/login/phone")
    await client.post("/login/phone", data={"phone": phone, "csrf_token": csrf_from(form.text)})
    data = {"phone": phone, "code": latest_code(runtime, phone), "csrf_token": csrf_from(form.text)}
    if name:
        data["name"] = name
    return await client.post("/login/phone/verify", data=data)


async def test_a_patients_saved_language_applies_after_sign_in(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    patient = await accounts.make(Role.patient, profile={"preferred_language": "sw"})
    signed_in = await sign_in_by_code(client, runtime, patient.phone or "")
    assert signed_in.status_code == 303
    assert client.cookies.get("cf_lang") == "sw"
    assert '<html lang="sw">' in (await client.get("/home")).text


async def test_switching_language_saves_the_patients_choice(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    patient = await accounts.make(Role.patient)
    await sign_in_by_code(client, runtime, patient.phone or "")
    home = await client.get("/home")
    await client.post(
        "/lang", data={"lang": "sw", "next": "/home", "csrf_token": csrf_from(home.text)}
    )
    me = await client.get("/api/me")
    assert me.json()["patient"]["preferred_language"] == "sw"


async def test_a_new_patient_keeps_the_language_they_signed_up_in(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client.headers["accept-language"] = "sw-KE,sw;q=0.9"
    response = await sign_in_by_code(client, runtime, "+254711000333", name="Neema")
    assert response.status_code == 303
    assert (await client.get("/api/me")).json()["patient"]["preferred_language"] == "sw"


async def test_a_name_with_control_characters_is_explained(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    response = await sign_in_by_code(client, runtime, "+254711000444", name="Bad\x00Name")
    assert response.status_code == 422
    assert "plain letters" in response.text
