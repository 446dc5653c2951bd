"""Links (issue 18): SMS, QR codes, calendar feeds and PDFs use the configured public
address; with none configured, a link made while answering a request points where that
request came to, and one made outside a request where `clinicflow serve` serves."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from clinicflow import cli
from clinicflow.clinic import links
from clinicflow.clinic import service as clinic_service
from clinicflow.config import Settings, get_settings
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.queue.clinic import QueueClinic

pytestmark = pytest.mark.usefixtures("app")

SERVED = "http://127.0.0.1:8123"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """This process serves at SERVED, as `clinicflow serve --port 8123` would tell it."""
    return settings.model_copy(update={"served_url": SERVED})


async def _feed_url(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    created = await client.post("/api/calendar-feed", headers=headers)
    assert created.status_code == 201, created.text
    url: str = created.json()["url"]
    return url


async def test_a_link_made_in_a_request_points_where_the_request_came(
    clinic: QueueClinic,
) -> None:
    _doctor, headers = await clinic.doctor()
    lan = httpx.AsyncClient(transport=clinic.client._transport, base_url="http://clinic.lan:8102")
    async with lan:
        assert (await _feed_url(lan, headers)).startswith("http://clinic.lan:8102/calendar/")
    assert (await _feed_url(clinic.client, headers)).startswith("http://testserver/calendar/")


async def test_a_configured_public_address_wins_and_clearing_it_returns_to_the_request(
    clinic: QueueClinic,
) -> None:
    admin = await clinic.staff(Role.admin)
    _doctor, headers = await clinic.doctor()
    saved = await clinic.client.put(
        "/api/admin/clinic", json={"public_url": "https://afya.example.com/"}, headers=admin
    )
    assert saved.json()["public_url"] == "https://afya.example.com"
    assert (await _feed_url(clinic.client, headers)).startswith("https://afya.example.com/")
    cleared = await clinic.client.put("/api/admin/clinic", json={"public_url": ""}, headers=admin)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["public_url"] is None
    assert (await _feed_url(clinic.client, headers)).startswith("http://testserver/")


async def test_a_link_made_outside_a_request_points_where_the_process_serves(
    runtime: Runtime, clinic: QueueClinic
) -> None:
    """What the worker sends (reminders, waitlist offers) reads the clinic in its own
    transaction, with no request: its links lead to `serve`'s own address."""
    async with runtime.transaction(write=False) as session:
        profile = await clinic_service.current(session=session)
    assert profile.configured_url is None
    assert profile.public_url == SERVED
    with links.use_request_base("http://clinic.lan:8102/"):
        assert profile.public_url == "http://clinic.lan:8102"
    bare = Settings.model_construct()
    assert clinic_service.from_environment(bare).public_url == links.FALLBACK_URL


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "8123"], "http://127.0.0.1:8123"),
        (["--host", "0.0.0.0", "--port", "9000"], "http://127.0.0.1:9000"),  # noqa: S104
        (["--host", "clinic.lan", "--port", "8102"], "http://clinic.lan:8102"),
        (["--host", "::1", "--port", "8102"], "http://[::1]:8102"),
    ],
)
def test_serve_makes_its_own_address_the_default_for_links(
    monkeypatch: pytest.MonkeyPatch, args: list[str], expected: str
) -> None:
    """`make run PORT=…` calls `clinicflow serve --port …`: the app it starts (the server
    is replaced here by one that builds the settings the app would read) links there."""
    monkeypatch.setenv("CLINICFLOW_ENV", "development")
    monkeypatch.delenv("CLINICFLOW_PUBLIC_URL", raising=False)
    monkeypatch.delenv(cli.SERVED_URL_VARIABLE, raising=False)
    seen: dict[str, Any] = {}

    def start(app: str, **options: Any) -> None:
        seen["port"] = options["port"]
        seen["served_url"] = get_settings().served_url

    monkeypatch.setattr(cli.uvicorn, "run", start)
    get_settings()  # read before, as a process may have: serve must not reuse it
    try:
        result = CliRunner().invoke(cli.app, ["serve", *args])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert seen["served_url"] == expected
    assert str(seen["port"]) == args[-1]
