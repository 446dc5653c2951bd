"""Health, metrics and the settings that refuse to run unsafely."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from clinicflow.app import create_app
from clinicflow.config import DEV_SECRET, Settings

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
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "postgresql+asyncpg://u@db/clinic"
    assert settings.redis_url == "redis://cache:6379/0"
    assert not settings.is_development


def test_only_development_runs_with_the_default_secret() -> None:
    assert Settings(env="development").secret_key == DEV_SECRET
    with pytest.raises(ValidationError, match="CLINICFLOW_SECRET_KEY"):
        Settings(env="test")
