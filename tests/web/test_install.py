"""The installable app's server side: the manifest per role, the worker's list of files,
and an offline shell that is the same for everyone (it holds nobody's data)."""

from __future__ import annotations

import json

import httpx

from clinicflow.identity.schemas import Role
from clinicflow.web.assets import ASSETS
from tests.factories import Accounts, sign_in_page_staff


async def test_the_manifest_opens_the_app_on_each_roles_first_page(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    anonymous = await client.get("/manifest.webmanifest")
    assert anonymous.headers["content-type"].startswith("application/manifest+json")
    assert anonymous.json()["start_url"] == "/home"
    assert "private" in anonymous.headers["cache-control"]
    for role, start in ((Role.receptionist, "/desk/queue"), (Role.doctor, "/doctor/queue")):
        client.cookies.clear()
        await sign_in_page_staff(client, await accounts.make(role))
        assert (await client.get("/manifest.webmanifest")).json()["start_url"] == start


async def test_the_worker_keeps_this_versions_static_files_and_the_shell(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/sw.js")
    first_line, _rest = response.text.split("\n", 1)
    config = json.loads(first_line.removeprefix("self.__CLINICFLOW = ").removesuffix(";"))
    urls = [entry["url"] for entry in config["precache"]]
    assert ASSETS.url("css/app.css") in urls
    assert ASSETS.url("js/install.js") in urls
    assert not [url for url in urls if "swagger-ui" in url or "/js/sw.js" in url]
    assert config["offline"] == "/offline"
    assert "/offline" in urls
    assert "workbox-7.4.1/workbox-sw.js" in response.text


async def test_the_offline_shell_holds_nobodys_data(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    signed_out = await client.get("/offline")
    doctor = await accounts.make(Role.doctor, name="Dr. Zawadi Kamau")
    await sign_in_page_staff(client, doctor)
    signed_in = await client.get("/offline")
    assert signed_in.status_code == 200
    assert "Zawadi" not in signed_in.text
    assert "/doctor/queue" not in signed_in.text
    assert 'data-testid="logout"' not in signed_in.text
    assert signed_in.headers["cache-control"] == "no-store"
    assert 'data-testid="offline-shell"' in signed_out.text


async def test_pages_say_whose_state_the_device_may_keep(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    """A signed-out browser is told to keep nothing; a signed-in page names its person (the
    key of what is kept) and the part to keep; the shell, drawn for nobody, does neither."""
    signed_out = await client.get("/login")
    assert '<meta name="offline-data" content="clear">' in signed_out.text
    assert 'name="offline-owner"' not in signed_out.text

    doctor = await accounts.make(Role.doctor, name="Dr. Zawadi Kamau")
    await sign_in_page_staff(client, doctor)
    queue = await client.get("/doctor/queue")
    assert f'<meta name="offline-owner" content="{doctor.id}"' in queue.text
    assert 'data-since="Offline since {time}"' in queue.text
    assert '<main class="container" data-offline-read>' in queue.text
    assert 'content="clear"' not in queue.text
    assert "data-sign-out" in queue.text

    shell = await client.get("/offline")
    assert str(doctor.id) not in shell.text
    assert 'name="offline-owner"' not in shell.text
    assert 'content="clear"' not in shell.text
