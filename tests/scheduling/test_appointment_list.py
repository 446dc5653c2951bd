"""The patient's appointments page: what is coming (each with its calendar file and the times
it may move to), and what is earlier or cancelled, never a cancelled one under "Upcoming"."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from clinicflow.scheduling.schemas import AppointmentStatus
from tests.factories import Accounts, csrf_from
from tests.factories import sign_in_page_patient as sign_in_patient
from tests.scheduling.test_pages import (
    MONDAY_14,
    MONDAY_15,
    hold_and_book,
    stored_appointments,
)

pytestmark = pytest.mark.usefixtures("app")


def section(html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}".*?</(div|table)>', html, re.S)
    return found.group(0) if found else ""


async def test_a_cancelled_appointment_leaves_upcoming_and_the_others_can_move(
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    doctor: User,
    session: AsyncSession,
) -> None:
    patient = await accounts.make(Role.patient)
    await sign_in_patient(client, runtime, patient)
    assert (await hold_and_book(client, doctor, MONDAY_14)).status_code == 303
    assert (await hold_and_book(client, doctor, MONDAY_15)).status_code == 303
    first, second = await stored_appointments(session)

    listing = (await client.get("/appointments")).text
    upcoming = section(listing, "upcoming")
    assert f'href="/api/appointments/{first.id}.ics"' in upcoming
    assert f'action="/appointments/{first.id}/reschedule"' in upcoming
    # The times offered are free ones of the doctor, in the doctor's zone, never its own.
    offered = re.findall(r'<option value="([^"]+)">([^<]+)</option>', upcoming)
    assert offered
    assert MONDAY_14 not in [value for value, _label in offered]
    assert any(label.endswith(", 14:15") for _value, label in offered)

    cancelled = await client.post(
        f"/appointments/{second.id}/cancel", data={"csrf_token": csrf_from(listing)}
    )
    assert cancelled.status_code == 303
    after = (await client.get("/appointments")).text
    assert f'data-id="{second.id}"' not in section(after, "upcoming")
    past = section(after, "past")
    assert "Cancelled" in past
    assert "15:00" in past

    moved = await client.post(
        f"/appointments/{first.id}/reschedule",
        data={"starts_at": offered[0][0], "back": "/appointments", "csrf_token": csrf_from(after)},
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == "/appointments?done=rescheduled"
    assert "Your appointment has a new time." in (await client.get(moved.headers["location"])).text
    await session.refresh(first)
    assert first.starts_at.isoformat() == offered[0][0]
    assert first.status is AppointmentStatus.booked

    # A time that is not one of the offered ones is refused on the field, nothing changed.
    refused = await client.post(
        f"/appointments/{first.id}/reschedule",
        data={"starts_at": "soon", "back": "//evil.example", "csrf_token": csrf_from(after)},
    )
    assert refused.status_code == 422
    assert "Choose one of the times shown." in refused.text
