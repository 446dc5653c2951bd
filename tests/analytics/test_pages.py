"""The analytics page: the admin's and the doctor's, the same numbers as the API."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from tests.analytics.day import ClinicDay
from tests.factories import sign_in_page_staff


async def one_visit(day: ClinicDay) -> User:
    doctor = await day.doctor()
    entry = await day.walk_in(doctor, datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    await day.call(doctor, datetime(2026, 3, 2, 6, 9, tzinfo=UTC))
    await day.finish(doctor, entry, datetime(2026, 3, 2, 6, 30, tzinfo=UTC))
    await day.at(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    return doctor


def figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert match, name
    return match.group(1)


async def test_the_admin_page_shows_the_api_numbers(
    client: httpx.AsyncClient, day: ClinicDay
) -> None:
    await one_visit(day)
    await sign_in_page_staff(client, await day.accounts.make(Role.admin))
    query = {"from": "2026-03-01", "to": "2026-03-02", "bucket": "week"}
    page = await client.get("/analytics", params=query)
    assert page.status_code == 200, page.text
    api = (await client.get("/api/analytics/summary", params=query)).json()
    for name in ("visits", "walk_ins", "appointments", "completed"):
        assert figure(page.text, name) == str(api[name])
    assert 'href="/analytics"' in page.text  # in the admin's navigation
    assert 'data-testid="by-channel"' in page.text
    assert (
        "/api/analytics/summary.csv?from=2026-03-01&amp;to=2026-03-02&amp;bucket=week" in page.text
    )
    assert "uplot-1.6.32.esm.js" in page.text  # in the import map


async def test_a_doctor_sees_their_page_and_no_one_else_does(
    client: httpx.AsyncClient, day: ClinicDay
) -> None:
    doctor = await one_visit(day)
    await sign_in_page_staff(client, doctor)
    page = await client.get("/analytics", params={"from": "2026-03-02", "to": "2026-03-02"})
    assert page.status_code == 200
    assert figure(page.text, "visits") == "1"
    assert 'data-testid="by-channel"' not in page.text  # clinic-wide figures are not theirs
    assert 'name="doctor_id"' not in page.text

    desk = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with desk:
        await sign_in_page_staff(desk, await day.accounts.make(Role.receptionist))
        refused = await desk.get("/analytics")
        assert refused.status_code == 403
        assert 'href="/analytics"' not in (await desk.get("/home")).text
