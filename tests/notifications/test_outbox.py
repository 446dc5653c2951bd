"""The development outbox shows what would have been sent, and exists only in development."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from clinicflow.app import create_app
from clinicflow.config import Settings


@pytest.fixture
async def dev_client(settings: Settings, clean_db: None) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(
        Settings.model_validate({**settings.model_dump(), "env": "development"})
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await app.state.runtime.close()


async def test_codes_appear_in_the_development_outbox(dev_client: httpx.AsyncClient) -> None:
    await dev_client.post("/api/auth/otp/request", json={"phone": "+254733000001"})
    messages = (await dev_client.get("/dev/outbox.json")).json()
    assert len(messages) == 1
    message = messages[0]
    assert set(message) == {"to", "channel", "body", "sent_at"}
    assert (message["to"], message["channel"]) == ("+254733000001", "sms")
    assert "code" in message["body"]

    page = await dev_client.get("/dev/outbox")
    assert page.status_code == 200
    assert "0733 000001" in page.text  # shown in national format


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize("path", ["/dev/outbox", "/dev/outbox.json"])
async def test_outbox_is_404_outside_development(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
