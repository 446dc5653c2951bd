"""Test data made through the services, and small HTTP helpers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import httpx

from clinicflow.config import Settings
from clinicflow.identity import service as identity
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime

PASSWORD = "correct horse battery"


@dataclass
class Accounts:
    """Makes users through the service layer, as the product would."""

    runtime: Runtime
    counter: int = 0

    async def make(self, role: Role = Role.patient, **fields: Any) -> User:
        self.counter += 1
        n = self.counter
        defaults: dict[str, Any] = {"name": f"{role.value.title()} {n}"}
        if role is Role.patient:
            defaults["phone"] = f"+2547{n:08d}"
        else:
            defaults["email"] = f"{role.value}{n}@clinic.example.com"
            defaults["password"] = PASSWORD
        defaults.update(fields)
        profile = defaults.pop("profile", None)
        async with self.runtime.transaction() as session:
            return await identity.create_user(
                session=session, actor=None, role=role, profile=profile, **defaults
            )


async def login(client: httpx.AsyncClient, user: User, password: str = PASSWORD) -> dict[str, Any]:
    """Log a staff user in through the API and return the token answer."""
    response = await client.post(
        "/api/auth/login", json={"email": user.email, "password": password}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def latest_code(runtime: Runtime, phone: str) -> str:
    """The newest code texted to `phone`, read from the development outbox."""
    assert runtime.outbox is not None
    for message in runtime.outbox.messages():
        if message.to == phone:
            match = re.search(r"\b(\d{6})\b", message.body)
            assert match, message.body
            return match.group(1)
    raise AssertionError(f"no code was sent to {phone}")


def run_cli(settings: Settings, *args: str, env: str = "test") -> subprocess.CompletedProcess[str]:
    """Run the real `clinicflow` command against the test's database, as an operator would."""
    environment = {
        **os.environ,
        "CLINICFLOW_ENV": env,
        "CLINICFLOW_SECRET_KEY": settings.secret_key,
        "DATABASE_URL": settings.database_url,
        "CLINICFLOW_VAR_DIR": str(settings.var_dir),
    }
    if settings.field_encryption_keys:
        environment["FIELD_ENCRYPTION_KEYS"] = json.dumps(settings.field_encryption_keys)
    environment.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "clinicflow", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=settings.var_dir,
    )


def csrf_from(html: str) -> str:
    """The CSRF token a page's forms carry."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def sign_in_page_staff(
    client: httpx.AsyncClient, user: User, password: str = PASSWORD
) -> None:
    """Sign a staff user in through the sign-in page, as a browser would (session cookie)."""
    form = await client.get("/login")
    response = await client.post(
        "/login",
        data={"email": user.email, "password": password, "csrf_token": csrf_from(form.text)},
    )
    assert response.status_code == 303, response.text


async def sign_in_page_patient(client: httpx.AsyncClient, runtime: Runtime, user: User) -> None:
    """Sign a patient in through the phone pages with the code from the outbox."""
    assert user.phone
    form = await client.get("/login/phone")
    token = csrf_from(form.text)
    await client.post("/login/phone", data={"phone": user.phone, "csrf_token": token})
    response = await client.post(
        "/login/phone/verify",
        data={"phone": user.phone, "code": latest_code(runtime, user.phone), "csrf_token": token},
    )
    assert response.status_code == 303, response.text
