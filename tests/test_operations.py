"""Health, metrics and the settings that refuse to run unsafely."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from clinicflow.app import create_app
from clinicflow.config import DEV_SECRET, Environment, Settings

pytestmark = pytest.mark.usefixtures("app")


async def test_health_reports_database_and_redis(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["redis"] == ("ok" if settings.redis_url else "not_configured")


async def test_health_fails_when_redis_is_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    app = create_app(broken)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/health")
    await app.state.runtime.close()
    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "checks": {"database": "ok", "redis": "error"},
    }


async def test_metrics_count_requests_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/api/me")
    await client.get("/api/admin/users/123e4567-e89b-12d3-a456-426614174000")
    await client.get("/health")
    text = (await client.get("/metrics")).text
    assert 'clinicflow_http_requests_total{method="GET",route="/api/me",status="401"} 1.0' in text
    assert 'route="/api/admin/users/{user_id}",status="401"' in text
    assert (
        'clinicflow_http_request_duration_seconds_count{method="GET",route="/health"} 1.0' in text
    )
    assert "426614174000" not in text


async def test_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="CLINICFLOW_SECRET_KEY"):
        Settings(env="production", secret_key=DEV_SECRET)
    with pytest.raises(ValidationError, match="CLINICFLOW_SECRET_KEY"):
        Settings(env="production", secret_key="short")


def test_production_refuses_a_missing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLINICFLOW_SECRET_KEY", raising=False)
    monkeypatch.setenv("CLINICFLOW_ENV", "production")
    with pytest.raises(ValidationError, match="CLINICFLOW_SECRET_KEY"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINICFLOW_ENV", "production")
    monkeypatch.setenv("CLINICFLOW_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@db/clinic")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", json.dumps([Fernet.generate_key().decode()]))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "postgresql+asyncpg://u@db/clinic"
    assert settings.redis_url == "redis://cache:6379/0"
    assert not settings.is_development


def test_production_names_its_own_field_keys() -> None:
    """Not derived from the signing secret, which an operator may rotate."""
    with pytest.raises(ValidationError, match="FIELD_ENCRYPTION_KEYS"):
        Settings(env="production", secret_key="x" * 40)
    key = Fernet.generate_key().decode()
    assert Settings(env="production", secret_key="x" * 40, field_encryption_keys=[key])


def test_only_development_runs_with_the_default_secret() -> None:
    assert Settings(env="development").secret_key == DEV_SECRET
    with pytest.raises(ValidationError, match="CLINICFLOW_SECRET_KEY"):
        Settings(env="test")


async def serve_once(
    settings: Settings,
    *paths: str,
    client: tuple[str, int] = ("127.0.0.1", 123),
    **headers: str,
) -> list[httpx.Response]:
    """GET each path from an app built with `settings` (no lifespan: nothing runs), as a
    client at `client`."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=client)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return [await client.get(path, headers=headers) for path in paths]
    finally:
        await app.state.runtime.close()


def production(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"env": Environment.production, **changes})


async def test_production_has_no_metrics_without_a_token(settings: Settings) -> None:
    [answer] = await serve_once(production(settings), "/metrics")
    assert answer.status_code == 404
    assert "clinicflow_http_requests_total" not in answer.text


async def test_metrics_with_a_token_answer_only_its_bearer(settings: Settings) -> None:
    token = "metrics-token-0123456789abcdef"
    configured = production(settings, metrics_token=token)
    [anonymous, wrong] = await serve_once(configured, "/metrics", "/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    [wrong] = await serve_once(configured, "/metrics", Authorization="Bearer nope")
    assert wrong.status_code == 401
    [right] = await serve_once(configured, "/metrics", Authorization=f"Bearer {token}")
    assert right.status_code == 200
    assert "clinicflow_http_requests_total" in right.text


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
async def test_production_has_no_api_documentation_by_default(
    settings: Settings, path: str
) -> None:
    [answer] = await serve_once(production(settings), path)
    assert answer.status_code == 404


async def test_api_documentation_loads_nothing_from_another_site(settings: Settings) -> None:
    """Turned on in production: the page names only our own static files, and each of
    them is there."""
    [page, schema] = await serve_once(production(settings, api_docs=True), "/docs", "/openapi.json")
    assert page.status_code == 200
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "clinicflow"
    urls = re.findall(r"""(?:src|href|data-openapi-url)\s*=\s*["']([^"']+)["']""", page.text)
    assert urls
    assert not [url for url in urls if "//" in url], urls
    assert "cdn" not in page.text.lower()
    assert "/openapi.json" in urls
    assets = [url for url in urls if url.startswith("/static/")]
    assert len(assets) == 4
    answers = await serve_once(production(settings, api_docs=True), *assets)
    assert [answer.status_code for answer in answers] == [200, 200, 200, 200]
    [start] = [answer for answer in answers if "api-docs.js" in str(answer.url)]
    assert "validatorUrl: null" in start.text
