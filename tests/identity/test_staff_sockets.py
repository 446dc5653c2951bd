"""Deactivating a staff member ends their open socket within the login recheck, on a real
uvicorn server (the socket's process is not the one that made the change)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fastapi import FastAPI
from websockets.exceptions import ConnectionClosed

from clinicflow.app import create_app
from clinicflow.config import Settings
from clinicflow.identity.schemas import Role
from tests.factories import Accounts, bearer, login
from tests.realtime.conftest import connect, serving

pytestmark = pytest.mark.usefixtures("app")

RECHECK_SECONDS = 1.0


async def test_deactivation_closes_an_open_socket_within_the_recheck(
    settings: Settings, client: httpx.AsyncClient, accounts: Accounts
) -> None:
    doctor = await accounts.make(Role.doctor)
    admin = bearer(await login(client, await accounts.make(Role.admin)))
    socket_app = create_app(
        settings.model_copy(update={"ws_login_recheck_seconds": RECHECK_SECONDS})
    )
    try:
        async with serving(socket_app) as server:
            socket = await connect(server, headers=bearer(await login(client, doctor)))
            await socket.subscribe(f"user:{doctor.id}")
            response = await client.patch(
                f"/api/admin/users/{doctor.id}", json={"is_active": False}, headers=admin
            )
            assert response.status_code == 200, response.text
            started = time.monotonic()
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(RECHECK_SECONDS + 2):
                    await socket.drain()
            assert time.monotonic() - started <= RECHECK_SECONDS + 2
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4401
    finally:
        await socket_app.state.runtime.close()


async def test_a_temporary_password_opens_no_socket(
    app: FastAPI, client: httpx.AsyncClient, accounts: Accounts
) -> None:
    """Pages and the API refuse a temporary password until it is changed; so does the socket,
    and the same login opens one once the password is the user's own."""
    admin = bearer(await login(client, await accounts.make(Role.admin)))
    created = await client.post(
        "/api/admin/users",
        json={
            "role": "doctor",
            "name": "Dr. Neema Wanjiru",
            "email": "neema@clinic.example.com",
            "credential": "temporary_password",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    temporary = created.json()["temporary_password"]
    signed_in = await client.post(
        "/api/auth/login", json={"email": "neema@clinic.example.com", "password": temporary}
    )
    headers = bearer(signed_in.json())
    async with serving(app) as server:
        socket = await connect(server, headers=headers)
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                await socket.drain()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401

        changed = await client.post(
            "/api/me/password",
            json={"current_password": temporary, "new_password": "my own long password"},
            headers=headers,
        )
        assert changed.status_code == 204, changed.text
        socket = await connect(server, headers=headers)
        try:
            assert await socket.subscribe(f"user:{created.json()['id']}") == []
        finally:
            await socket.close()
