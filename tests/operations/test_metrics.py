"""The operator's metrics beside the HTTP ones: sockets, events, queues, deliveries, the
outbox, the worker and the pool; and who may read `/metrics` in production."""

from __future__ import annotations

import re
import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import worker
from clinicflow.config import Environment, Settings
from clinicflow.core.clock import FrozenClock
from clinicflow.operations import heartbeat, scrape
from clinicflow.runtime import Runtime
from tests.queue.clinic import QueueClinic
from tests.test_cli import free_port
from tests.test_operations import serve_once

pytestmark = pytest.mark.usefixtures("app")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_queue_deliveries_outbox_and_events_are_reported(
    client: httpx.AsyncClient, clinic: QueueClinic, frozen_clock: FrozenClock
) -> None:
    doctor, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    for phone in ("+254700000101", "+254700000102"):
        assert (await clinic.walk_in(desk, doctor, phone)).status_code == 201
    frozen_clock.advance(minutes=7)

    scraped = samples((await client.get("/metrics")).text)
    doctor_label = (("doctor_id", str(doctor.id)),)
    assert scraped[("clinicflow_queue_waiting", doctor_label)] == 2
    assert scraped[("clinicflow_queue_longest_wait_seconds", doctor_label)] == 7 * 60
    published = {
        labels: value
        for (name, labels), value in scraped.items()
        if name == "clinicflow_events_published_total"
    }
    assert sum(published.values()) >= 2
    deliveries = {
        dict(labels)["status"]: value
        for (name, labels), value in scraped.items()
        if name == "clinicflow_deliveries_last_hour"
    }
    assert deliveries.get("pending", 0) >= 1
    # The deliveries fell due when made; nothing sent them in seven minutes.
    assert scraped[("clinicflow_outbox_due", ())] >= 1
    assert scraped[("clinicflow_outbox_oldest_due_age_seconds", ())] == 7 * 60
    assert scraped[("clinicflow_open_sockets", ())] == 0
    assert ("clinicflow_db_pool_connections_in_use", ()) in scraped


async def test_worker_jobs_durations_failures_and_last_beat(
    client: httpx.AsyncClient, runtime: Runtime, frozen_clock: FrozenClock
) -> None:
    async def boom(_runtime: Runtime, _session: AsyncSession) -> None:
        raise RuntimeError("boom")

    assert not await worker.run_once(runtime, worker.Job("test.boom", 1, boom))
    never = samples((await client.get("/metrics")).text)
    assert never[("clinicflow_worker_last_seen_age_seconds", ())] == float("inf")
    assert never[("clinicflow_worker_job_failures_total", (("job", "test.boom"),))] == 1

    async with runtime.transaction() as session:
        await heartbeat.beat(session)
    frozen_clock.advance(seconds=30)
    scraped = samples((await client.get("/metrics")).text)
    assert scraped[("clinicflow_worker_last_seen_age_seconds", ())] == 30
    assert scraped[("clinicflow_worker_job_duration_seconds_count", (("job", "test.boom"),))] == 1


TOKEN = "metrics-token-0123456789abcdef"


@pytest.mark.parametrize(
    ("allowed", "status"),
    [([], 200), (["203.0.113.0/24"], 200), (["198.51.100.7"], 404)],
)
async def test_the_allow_list_narrows_who_may_scrape(
    settings: Settings, allowed: list[str], status: int
) -> None:
    configured = settings.model_copy(
        update={
            "env": Environment.production,
            "metrics_token": TOKEN,
            "metrics_allowed_addresses": allowed,
        }
    )
    [answer] = await serve_once(
        configured, "/metrics", client=("203.0.113.9", 5000), Authorization=f"Bearer {TOKEN}"
    )
    assert answer.status_code == status
    assert bool(re.search("clinicflow_outbox_due", answer.text)) is (status == 200)


async def test_an_empty_token_is_no_token(settings: Settings) -> None:
    """A blank METRICS_TOKEN line in an env file must not open /metrics to "Bearer "."""
    configured = settings.model_copy(update={"env": Environment.production, "metrics_token": ""})
    [answer] = await serve_once(configured, "/metrics", Authorization="Bearer ")
    assert answer.status_code == 404


# compose.yaml's worker listens on every address of its container.
EVERY_ADDRESS = "0.0.0.0"  # noqa: S104


def _own_address() -> str | None:
    """A non-loopback address of this machine (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.254", 9))
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") or address == EVERY_ADDRESS else address


async def _scrape(url: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as http:
        return await http.get(url, headers=headers)


async def test_a_separate_worker_serves_its_job_metrics_on_loopback_by_default(
    runtime: Runtime,
) -> None:
    async def tick(_runtime: Runtime, _session: AsyncSession) -> None:
        return None

    assert await worker.run_once(runtime, worker.Job("test.tick", 1, tick))
    port = free_port()
    server = scrape.serve_worker_metrics(runtime, port)
    try:
        text = (await _scrape(f"http://127.0.0.1:{port}/metrics")).text
        own = _own_address()
        if own is not None:
            # Nothing but this host reaches the default address.
            with pytest.raises(httpx.ConnectError):
                await _scrape(f"http://{own}:{port}/metrics")
    finally:
        server.shutdown()
        server.server_close()
    scraped = samples(text)
    assert scraped[("clinicflow_worker_job_duration_seconds_count", (("job", "test.tick"),))] == 1


async def test_a_containers_worker_serves_its_metrics_on_its_address_behind_the_token(
    runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """compose.yaml's Prometheus is another container: the worker listens on 0.0.0.0 there,
    and answers only the token's bearer in production, as `/metrics` does."""
    own = _own_address()
    if own is None:
        pytest.skip("this machine has no address besides loopback")
    monkeypatch.setattr(
        runtime, "settings", settings.model_copy(update={"env": Environment.production})
    )
    port = free_port()
    server = scrape.serve_worker_metrics(runtime, port, EVERY_ADDRESS)
    try:
        # Production without a token: nothing to see, even though the port is open.
        assert (await _scrape(f"http://{own}:{port}/metrics")).status_code == 404
        runtime.settings = runtime.settings.model_copy(update={"metrics_token": TOKEN})
        server.shutdown()
        server.server_close()
        server = scrape.serve_worker_metrics(runtime, port, EVERY_ADDRESS)
        anonymous = await _scrape(f"http://{own}:{port}/metrics")
        wrong = await _scrape(f"http://{own}:{port}/metrics", Authorization="Bearer nope")
        bearer = await _scrape(f"http://{own}:{port}/metrics", Authorization=f"Bearer {TOKEN}")
    finally:
        server.shutdown()
        server.server_close()
    assert anonymous.status_code == wrong.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert "clinicflow_worker_job" not in anonymous.text + wrong.text
    assert bearer.status_code == 200
    assert "clinicflow_worker_job_duration_seconds" in bearer.text


async def test_the_workers_allow_list_is_the_same_as_the_web_processes(
    runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        runtime,
        "settings",
        settings.model_copy(
            update={
                "env": Environment.production,
                "metrics_token": TOKEN,
                "metrics_allowed_addresses": ["198.51.100.7"],
            }
        ),
    )
    port = free_port()
    server = scrape.serve_worker_metrics(runtime, port)
    try:
        answer = await _scrape(f"http://127.0.0.1:{port}/metrics", Authorization=f"Bearer {TOKEN}")
    finally:
        server.shutdown()
        server.server_close()
    assert answer.status_code == 404
