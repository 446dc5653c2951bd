"""Errors reach Sentry (a local stand-in speaking its envelope protocol) scrubbed of
clinical text and tokens; operators' log lines carry ids and states, never clinical text."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import sentry_sdk
import structlog
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from clinicflow.app import create_app
from clinicflow.config import Environment, Settings
from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationType
from clinicflow.core import errortracking, observability
from clinicflow.identity.schemas import Role
from tests.consultations.clinic import TEST_PENDING
from tests.factories import Accounts
from tests.queue.clinic import QueueClinic

pytestmark = pytest.mark.usefixtures("app")

PROBLEM = "Crushing chest pain since this morning"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXN0YW5kLWlu"


class Envelopes(BaseHTTPRequestHandler):
    received: list[bytes]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli  # type: ignore[import-not-found]

            body = brotli.decompress(body)
        self.received.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def sentry() -> Iterator[tuple[str, list[bytes]]]:
    received: list[bytes] = []
    handler = type("Handler", (Envelopes,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://publickey@127.0.0.1:{server.server_address[1]}/42", received
    finally:
        sentry_sdk.get_client().close()
        # No DSN and no integrations: reporting off for the rest of the session, and nothing
        # left reading request bodies (Starlette's integration, on by default, does).
        sentry_sdk.init(default_integrations=False, auto_enabling_integrations=False)
        server.shutdown()
        server.server_close()


async def test_an_error_reaches_sentry_without_clinical_text_or_tokens(
    settings: Settings, sentry: tuple[str, list[bytes]]
) -> None:
    dsn, received = sentry
    app: FastAPI = create_app(settings.model_copy(update={"sentry_dsn": dsn}))

    @app.post("/boom")
    async def boom(payload: dict[str, str]) -> None:
        problem = payload["problem"]  # a local variable, and the body: neither may leave
        raise RuntimeError(f"could not store {len(problem)} characters for Bearer {JWT}")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.post(
                "/boom?token=" + JWT,
                json={"problem": PROBLEM},
                headers={"Authorization": f"Bearer {JWT}", "Cookie": f"session={JWT}"},
            )
    finally:
        await app.state.runtime.close()
    assert answer.status_code == 500
    sentry_sdk.flush(timeout=5)
    assert received, "nothing reached the stand-in"
    sent = b"".join(received).decode()
    assert "RuntimeError" in sent
    assert JWT not in sent
    assert "Crushing" not in sent
    events = [json.loads(line) for line in sent.splitlines() if '"exception"' in line]
    assert events
    event = events[0]
    assert event["request"]["url"].endswith("/boom")
    assert "data" not in event["request"]
    assert "cookies" not in event["request"]
    assert "authorization" not in {key.lower() for key in event["request"]["headers"]}
    frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
    assert all("vars" not in frame for frame in frames)


def test_scrub_filters_clinical_keys_everywhere() -> None:
    event = {
        "extra": {"problem": PROBLEM, "notes": "x", "count": 3},
        "breadcrumbs": {"values": [{"data": {"text": PROBLEM, "status": "sent"}}]},
        "message": "plain",
    }
    cleaned = errortracking.scrub(event)
    assert PROBLEM not in json.dumps(cleaned)
    assert cleaned["extra"]["count"] == 3
    assert cleaned["breadcrumbs"]["values"][0]["data"]["status"] == "sent"


async def test_log_lines_of_queue_moves_and_consultations_hold_no_clinical_text(
    clinic: QueueClinic, accounts: Accounts
) -> None:
    doctor, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    patient = await accounts.make(Role.patient)
    with structlog.testing.capture_logs() as logs:
        walked_in = await clinic.walk_in(desk, doctor, "+254700000201")
        assert walked_in.status_code == 201
        async with clinic.runtime.transaction() as session:
            await consultations.start(
                session=session,
                actor=patient,
                max_pending=TEST_PENDING,
                doctor_id=doctor.id,
                problem=PROBLEM,
                type=ConsultationType.chat,
            )
    queue_lines = [line for line in logs if str(line["event"]).startswith("queue.")]
    assert queue_lines
    assert any("token" in line for line in queue_lines)
    assert any(line["event"] == "consultation.start" for line in logs)
    assert PROBLEM not in json.dumps(logs, default=str)


def test_production_logs_are_json_lines(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    observability.configure_logging(settings.model_copy(update={"env": Environment.production}))
    try:
        structlog.get_logger("t").info("queue.call", token=7)
        line = capsys.readouterr().err.strip().splitlines()[-1]
    finally:
        observability.configure_logging(settings)
    assert json.loads(line)["event"] == "queue.call"
    assert json.loads(line)["token"] == 7


SECRET_TEXT = "Crushing chest pain"
keys_text = st.sampled_from([*sorted(errortracking.SENSITIVE_KEYS), "status", "id", "path"])
events = st.recursive(
    st.dictionaries(keys_text, st.just(SECRET_TEXT), max_size=4),
    lambda children: st.dictionaries(
        keys_text | st.sampled_from(["extra", "contexts"]),
        children | st.lists(children),
        max_size=4,
    ),
    max_leaves=20,
)


@given(events)
def test_no_value_under_a_sensitive_key_survives_at_any_depth(event: dict[str, Any]) -> None:
    def sensitive_values(value: Any, under_sensitive: bool = False) -> list[Any]:
        if isinstance(value, dict):
            return [
                found
                for key, item in value.items()
                for found in sensitive_values(
                    item, under_sensitive or key in errortracking.SENSITIVE_KEYS
                )
            ]
        if isinstance(value, list):
            return [found for item in value for found in sensitive_values(item, under_sensitive)]
        return [value] if under_sensitive and value != errortracking.FILTERED else []

    assert sensitive_values(errortracking.scrub(event)) == []
