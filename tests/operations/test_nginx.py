"""Debian's NGINX with the shipped site file (deploy/nginx/clinicflow.conf) in front of two
`clinicflow serve` processes on PostgreSQL and Redis: pages, the API and /ws work through
it over TLS, and when the process holding a socket is killed the client reconnects through
NGINX to the other one and resumes from its last seq with nothing lost."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import ssl
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.async_api import ConsoleMessage, async_playwright, expect
from prometheus_client.parser import text_string_to_metric_families

from clinicflow.config import Settings
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.runtime import Runtime
from clinicflow.web.assets import ASSETS
from clinicflow.web.headers import CONTENT_SECURITY_POLICY
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL
from tests.consultations.clinic import Clinic, Person
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, REPORT_CSP_VIOLATIONS
from tests.factories import PASSWORD, Accounts
from tests.realtime.conftest import Server, Socket, _free_port

pytestmark = pytest.mark.usefixtures("app")

NGINX = Path("/usr/sbin/nginx")
SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "clinicflow.conf"
MAIN = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
{user}
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/clinicflow.conf;
}}
"""


@dataclass(frozen=True)
class Proxy:
    http_port: int
    https_port: int

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def ws_url(self) -> str:
        return f"wss://127.0.0.1:{self.https_port}/ws"


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate standing in for the operator's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    chain, private = directory / "fullchain.pem", directory / "privkey.pem"
    chain.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return chain, private


def render_site(values: dict[str, str]) -> str:
    """The site file with its ${NAMES} filled in, as envsubst does."""
    text = SITE.read_text()
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    unfilled = [line for line in text.splitlines() if "${" in line.split("#", 1)[0]]
    assert unfilled == [], "the site file names a variable the test does not fill"
    return text


Process = asyncio.subprocess.Process
START_SECONDS = 90.0


async def _until_answers(url: str, process: Process, *, verify: bool = True) -> None:
    """Wait for `url` to answer 200 (a loaded machine may take a while to start Python)."""
    async with httpx.AsyncClient(verify=verify) as http:
        async with asyncio.timeout(START_SECONDS):
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"{url}: the process exited with {process.returncode}")
                try:
                    if (await http.get(url)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)


@pytest.fixture
def services() -> None:
    if not (TEST_DATABASE_URL and TEST_REDIS_URL):
        pytest.skip("the NGINX test needs PostgreSQL and Redis (TEST_DATABASE_URL, TEST_REDIS_URL)")
    if not NGINX.exists():
        pytest.skip("NGINX is not installed (scripts/test installs Debian's nginx)")


@pytest.fixture
async def two_processes(
    services: None, settings: Settings, tmp_path: Path
) -> AsyncIterator[list[tuple[Server, Process]]]:
    environment = {
        **os.environ,
        "CLINICFLOW_ENV": "test",
        "CLINICFLOW_SECRET_KEY": settings.secret_key,
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "CLINICFLOW_VAR_DIR": str(tmp_path),
        "EMBEDDED_WORKER": "false",
    }
    running: list[tuple[Server, Process]] = []
    try:
        for _ in range(2):
            port = _free_port()
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "clinicflow", "serve", "--port", str(port)),
                env=environment,
                cwd=tmp_path,
            )
            running.append((Server(port=port), process))
        for server, process in running:
            await _until_answers(server.http_url + "/health/live", process)
        yield running
    finally:
        for _, process in running:
            if process.returncode is None:
                process.terminate()
        for _, process in running:
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()


@pytest.fixture
async def proxy(
    two_processes: list[tuple[Server, Process]], tmp_path: Path
) -> AsyncIterator[Proxy]:
    chain, private = _certificate(tmp_path)
    ports = Proxy(http_port=_free_port(), https_port=_free_port())
    upstreams = " ".join(f"server 127.0.0.1:{server.port};" for server, _ in two_processes)
    (tmp_path / "clinicflow.conf").write_text(
        render_site(
            {
                "CLINICFLOW_UPSTREAMS": upstreams,
                "SERVER_NAME": "127.0.0.1",
                "HTTP_PORT": str(ports.http_port),
                "HTTPS_PORT": str(ports.https_port),
                "TLS_CERTIFICATE": str(chain),
                "TLS_CERTIFICATE_KEY": str(private),
            }
        )
    )
    # As root, NGINX's workers would drop to `nobody`, who cannot enter the test's directory.
    user = "user root;" if os.geteuid() == 0 else ""
    main = tmp_path / "nginx.conf"
    main.write_text(MAIN.format(tmp=tmp_path, user=user))
    command = [str(NGINX), "-e", str(tmp_path / "error.log"), "-p", str(tmp_path), "-c", str(main)]
    checked = await asyncio.create_subprocess_exec(*command, "-t", stderr=asyncio.subprocess.PIPE)
    _, problems = await checked.communicate()
    assert checked.returncode == 0, problems.decode()
    nginx = await asyncio.create_subprocess_exec(*command)
    try:
        # The stand-in certificate is self-signed: nothing to verify it against.
        await _until_answers(ports.base_url + "/health/live", nginx, verify=False)
        yield ports
    finally:
        nginx.terminate()
        await asyncio.wait_for(nginx.wait(), timeout=10)


def _insecure() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def _socket(proxy: Proxy, person: Person) -> Socket:
    connection = await websockets.connect(
        proxy.ws_url, ssl=_insecure(), additional_headers=person.headers, open_timeout=10
    )
    return Socket(connection)


async def _open_sockets(server: Server) -> float:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        text = (await http.get("/metrics")).text
    [family] = [
        f for f in text_string_to_metric_families(text) if f.name == "clinicflow_open_sockets"
    ]
    return family.samples[0].value


async def test_pages_api_and_sockets_through_nginx_survive_a_killed_process(
    proxy: Proxy,
    two_processes: list[tuple[Server, Process]],
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
) -> None:
    clinic = Clinic(client, accounts, runtime)
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    topic = f"consultation:{consultation.id}"

    async with httpx.AsyncClient(base_url=proxy.base_url, verify=False) as http:  # noqa: S501 (self-signed)
        # Plain http is sent to https.
        plain = await http.get(f"http://127.0.0.1:{proxy.http_port}/login")
        assert plain.status_code == 301
        assert plain.headers["location"].startswith("https://")
        page = await http.get("/login", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        # NGINX said https from a trusted address (FORWARDED_ALLOW_IPS' default): HSTS.
        assert "strict-transport-security" in page.headers
        style = await http.get(ASSETS.url("css/app.css"), headers={"Accept-Encoding": "gzip"})
        assert style.headers["content-encoding"] == "gzip"
        assert "immutable" in style.headers["cache-control"]
        me = await http.get("/api/me", headers=patient.headers)
        assert me.status_code == 200
        assert me.json()["id"] == str(patient.id)

        async def say(body: str) -> None:
            answer = await http.post(
                f"/api/consultations/{consultation.id}/messages",
                json={"client_id": body, "body": body},
                headers=doctor.headers,
            )
            assert answer.status_code == 201, answer.text

        socket = await _socket(proxy, patient)
        await socket.subscribe(topic, since=consultation.last_seq)
        await say("one")
        first = await socket.until(lambda frame: frame.get("type") == "message.created")
        assert first["data"]["body"] == "one"

        # Kill the process that holds the socket, as a crash would.
        holders = [
            (server, process)
            for server, process in two_processes
            if await _open_sockets(server) == 1
        ]
        assert len(holders) == 1
        holders[0][1].kill()
        await asyncio.wait_for(holders[0][1].wait(), timeout=10)
        with pytest.raises(websockets.ConnectionClosed):
            await socket.until(lambda _: False, wait=10)

        await say("two")
        await say("three")
        socket = await _socket(proxy, patient)
        missed = await socket.subscribe(topic, since=first["seq"])
        await say("four")
        live = await socket.until(lambda frame: frame.get("type") == "message.created")
        await socket.close()

    received = [first, *missed, live]
    assert [frame["data"]["body"] for frame in received] == ["one", "two", "three", "four"]
    assert [frame["seq"] for frame in received] == list(range(first["seq"], first["seq"] + 4))


async def _holder(two_processes: list[tuple[Server, Process]]) -> Process:
    """The one process holding this test's one socket."""
    holders = [process for server, process in two_processes if await _open_sockets(server) == 1]
    assert len(holders) == 1
    return holders[0]


async def test_a_browsers_socket_reconnects_through_nginx_to_the_other_process(
    proxy: Proxy,
    two_processes: list[tuple[Server, Process]],
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
) -> None:
    """The doctor's consultation page in Chromium, over NGINX's TLS on a port of its own:
    its socket is refused by nobody (the Origin's port reaches the app in Host), and when
    the process holding it dies the page's own client reconnects to the other process and
    shows every message, the ones sent while it was away too, once and in order."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    clinic = Clinic(client, accounts, runtime)
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    violations: list[str] = []

    def collect(message: ConsoleMessage) -> None:
        if message.type == "error" and "CSP violation" in message.text:
            violations.append(message.text)

    async with (
        httpx.AsyncClient(base_url=proxy.base_url, verify=False) as http,  # noqa: S501 (self-signed)
        async_playwright() as playwright,
    ):

        async def say(body: str) -> None:
            answer = await http.post(
                f"/api/consultations/{consultation.id}/messages",
                json={"client_id": body, "body": body},
                headers=patient.headers,
            )
            assert answer.status_code == 201, answer.text

        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await browser.new_context(
                base_url=proxy.base_url, ignore_https_errors=True, locale="en-US"
            )
            await context.add_init_script(REPORT_CSP_VIOLATIONS)
            context.on("console", collect)
            page = await context.new_page()
            await page.goto("/login")
            form = page.locator("form[action='/login']")
            await form.locator("input[name=email]").fill(str(doctor.user.email))
            await form.locator("input[name=password]").fill(PASSWORD)
            await form.locator("button[type=submit]").click()
            await page.wait_for_url("**/home")
            await page.goto(f"/consultations/{consultation.id}")
            connection = page.locator("[data-testid=connection]")
            await expect(connection).to_have_attribute("data-state", "connected")
            bubbles = page.locator("[data-testid=messages] li:not(.system) p")

            await say("one")
            await expect(bubbles).to_have_text(["one"])

            holder = await _holder(two_processes)
            holder.kill()
            await asyncio.wait_for(holder.wait(), timeout=10)
            await say("two")
            await say("three")
            # The page's own client: its backoff, through NGINX, onto the other process.
            await expect(bubbles).to_have_text(["one", "two", "three"], timeout=45_000)
            await expect(connection).to_have_attribute("data-state", "connected")
            await say("four")
            await expect(bubbles).to_have_text(["one", "two", "three", "four"])
            await context.close()
        finally:
            await browser.close()
    assert violations == [], violations
