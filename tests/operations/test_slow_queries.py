"""Slow statements are counted and logged for the operator, by their text and never by the
values bound to them (a patient's phone or name)."""

from __future__ import annotations

import httpx
import pytest
import structlog
from fastapi import FastAPI

from clinicflow.app import create_app
from clinicflow.config import Settings
from tests.operations.test_metrics import samples
from tests.queue.clinic import QueueClinic

pytestmark = pytest.mark.usefixtures("app")

PHONE = "+254700000555"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Every statement counts as slow, so a short test sees the reports."""
    return settings.model_copy(update={"slow_query_seconds": 0})


async def test_a_slow_statement_is_counted_and_logged_without_its_values(
    client: httpx.AsyncClient, clinic: QueueClinic
) -> None:
    doctor, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    with structlog.testing.capture_logs() as logs:
        assert (await clinic.walk_in(desk, doctor, PHONE)).status_code == 201
    slow = [line for line in logs if line["event"] == "db.slow_query"]
    inserts = [line for line in slow if line["operation"] == "INSERT"]
    assert inserts, slow
    assert all(line["seconds"] >= 0 for line in slow)
    assert any("queue_entries" in line["statement"] for line in inserts)
    national = PHONE.removeprefix("+254")
    assert not [line for line in slow if national in line["statement"]]

    scraped = samples((await client.get("/metrics")).text)
    assert scraped[("clinicflow_db_slow_queries_total", (("operation", "INSERT"),))] >= len(inserts)
    assert scraped[("clinicflow_db_slow_queries_total", (("operation", "SELECT"),))] >= 1


async def test_statements_under_the_threshold_are_not_reported(settings: Settings) -> None:
    patient_app: FastAPI = create_app(settings.model_copy(update={"slow_query_seconds": 60}))
    transport = httpx.ASGITransport(app=patient_app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            with structlog.testing.capture_logs() as logs:
                assert (await http.get("/api/doctors")).status_code == 200
            scraped = samples((await http.get("/metrics")).text)
    finally:
        await patient_app.state.runtime.close()
    assert not [line for line in logs if line["event"] == "db.slow_query"]
    assert not [
        value for (name, _), value in scraped.items() if name == "clinicflow_db_slow_queries_total"
    ]
