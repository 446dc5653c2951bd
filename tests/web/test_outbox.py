"""What the pages hand to `static/js/outbox.js` so a person can go on working offline
(issue 19): the forms whose submit it may keep, the desk's part it keeps for the offline
shell, the shell's place to draw it, and the question before a sign-out that would lose
what is not sent yet. The browser side is tested in tests/e2e/test_offline_desk.py."""

from __future__ import annotations

import httpx
import pytest

from clinicflow.identity.schemas import Role
from clinicflow.web.assets import ASSETS
from tests.factories import Accounts, sign_in_page_staff
from tests.queue.test_pages import parse

pytestmark = pytest.mark.usefixtures("app")


async def test_the_desk_marks_the_walk_in_and_check_in_forms_and_the_part_kept_offline(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    await accounts.make(Role.doctor, name="Dr. Amani Otieno")
    await sign_in_page_staff(client, await accounts.make(Role.receptionist))
    page = parse((await client.get("/desk/queue")).text)
    [walk_in] = page.all("walk-in-form")
    [code] = page.all("code-form")
    assert walk_in.attrs["data-outbox-form"] == "walk_in"
    assert code.attrs["data-outbox-form"] == "check_in"
    # The part kept for the offline shell: the list the module draws (hidden until it holds
    # something) and both forms.
    [kept] = [e for e in page.walk() if "data-outbox-view" in e.attrs]
    assert {"walk-in-form", "code-form", "outbox"} <= {
        e.attrs.get("data-testid") for e in kept.walk()
    }
    [outbox] = page.all("outbox")
    assert "hidden" in outbox.attrs
    assert outbox.attrs["data-token-on-sync"] == "Token on sync"


async def test_a_signed_in_page_loads_the_outbox_and_asks_before_a_sign_out(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    signed_out = await client.get("/login")
    assert ASSETS.url("js/outbox.js") not in signed_out.text
    await sign_in_page_staff(client, await accounts.make(Role.doctor))
    home = await client.get("/home")
    assert ASSETS.url("js/outbox.js") in home.text
    [sign_out] = parse(home.text).where(action="/logout")
    assert "not sent yet" in sign_out.attrs["data-outbox-sign-out"]


async def test_the_offline_shell_has_a_place_for_what_a_page_kept(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    await sign_in_page_staff(client, await accounts.make(Role.receptionist, name="Rehema Desk"))
    shell = await client.get("/offline")
    page = parse(shell.text)
    assert [e for e in page.walk() if "data-outbox-mount" in e.attrs]
    assert ASSETS.url("js/outbox.js") in shell.text
    # Still nobody's: what it draws comes from the device, not from the server.
    assert "Rehema" not in shell.text
    assert "data-outbox-sign-out" not in shell.text
