"""Schemathesis against /openapi.json: whatever a client sends, the API never answers 5xx.

Every operation gets generated requests, valid and invalid, anonymously and as an admin,
so validation, authentication and the services all see them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from starlette.testclient import TestClient

from clinicflow.app import create_app
from clinicflow.config import Settings
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from tests.factories import PASSWORD

EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "20"))
# CI replays the same examples every run, so a red build always means a change broke
# something; a developer's run explores new ones (FUZZ_EXAMPLES=200 to dig deeper).
DERANDOMIZE = os.environ.get("CI") == "true"
# A 503 is readiness's own answer for an install that is not ready (this one has no
# migration table and no worker): tests/operations/test_health.py holds it to that.
NOT_FUZZED = {"/health/ready"}
# Patience for a loaded CI machine; the slowest request here takes about 3 s with both cores
# busy, so one that passes this is stuck, not slow.
READ_TIMEOUT = 30


@pytest.fixture
def fuzzed_app(settings: Settings, clean_db: None) -> Iterator[FastAPI]:
    """A fresh app driven from schemathesis's own (synchronous) client."""
    app = create_app(settings)
    yield app
    asyncio.run(app.state.runtime.engine.dispose())


def admin_token(app: FastAPI) -> str:
    runtime = app.state.runtime

    async def make_admin() -> None:
        async with runtime.transaction() as session:
            await identity.create_user(
                session=session,
                actor=None,
                role=Role.admin,
                name="Fuzz Admin",
                email="fuzz@clinic.example.com",
                password=PASSWORD,
            )

    with TestClient(app) as client:
        assert client.portal is not None
        client.portal.call(make_admin)
        response = client.post(
            "/api/auth/login", json={"email": "fuzz@clinic.example.com", "password": PASSWORD}
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def answer(case: schemathesis.Case, **kwargs: Any) -> None:
    """Send `case`; a request that never answers is named, since CI's log keeps only the
    end of hypothesis's report and a bare `ReadTimeout` says nothing of which one it was."""
    try:
        case.call_and_validate(checks=[not_a_server_error], timeout=READ_TIMEOUT, **kwargs)
    except requests.exceptions.ReadTimeout:
        pytest.fail(
            f"{case.method} {case.formatted_path} gave no answer within {READ_TIMEOUT} s"
            f" (query={case.query!r}, body={case.body!r}, {'admin' if kwargs else 'anonymous'})"
        )


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda mode: mode.value)
def test_no_request_makes_the_api_fail(fuzzed_app: FastAPI, mode: GenerationMode) -> None:
    token = admin_token(fuzzed_app)
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)
    operations = [
        operation
        for operation in (result.ok() for result in schema.get_all_operations())
        if operation.path not in NOT_FUZZED
    ]
    assert len(operations) >= 10, "the schema lost its operations"

    for operation in operations:
        takes_input = (
            any(operation.iter_parameters()) or operation.get_request_payload_content_types()
        )
        if mode is GenerationMode.NEGATIVE and not takes_input:
            continue  # nothing to get wrong: no parameters and no body

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=DERANDOMIZE,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            answer(case)
            if case.path != "/api/auth/logout":  # it would end the admin's login
                answer(case, headers={"Authorization": f"Bearer {token}"})

        call()
