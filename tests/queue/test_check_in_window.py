"""One check-in window for the patient and the front desk (issue 18): the patient's "Check
in" was refused hours early while the desk checked the same patient in. Both open at
`check_in_window_minutes` before the start (`queues.check_in_opens_at`), are refused before
it with the same words and the same time, and both check a late patient in after the start,
past the no-show grace too (the late-appointment bonus orders them)."""

from __future__ import annotations

from typing import Any

import httpx

from clinicflow.core.clock import FrozenClock
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from tests.factories import csrf_from, sign_in_page_staff
from tests.queue.clinic import AFTERNOON, QueueClinic
from tests.queue.test_pages import Browser, browser, parse

__all__ = ["browser"]  # the fixture, shared with the other page tests


async def _booked(clinic: QueueClinic, doctor: User, starts_at: str) -> tuple[str, dict[str, str]]:
    _patient, headers = await clinic.patient()
    booked = await clinic.book(headers, doctor, starts_at)
    assert booked.status_code == 201, booked.text
    return booked.json()["id"], headers


async def _check_in(
    clinic: QueueClinic, headers: dict[str, str], appointment_id: str
) -> httpx.Response:
    return await clinic.client.post(
        "/api/queue/check-in", json={"appointment_id": appointment_id}, headers=headers
    )


def _refusal(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()["error"]


async def test_the_desk_is_refused_before_the_window_as_the_patient_is(
    clinic: QueueClinic, frozen_clock: FrozenClock
) -> None:
    doctor, _ = await clinic.doctor()
    other_doctor, _ = await clinic.doctor()
    # 13:00 UTC is 16:00 in Nairobi: check-in opens at 15:00 there, 12:00 UTC.
    by_desk, _ = await _booked(clinic, doctor, AFTERNOON[8])
    by_self, patient = await _booked(clinic, other_doctor, AFTERNOON[8])
    expected = {
        "code": "check_in_not_open",
        "message": "Check-in opens at 15:00.",
        "details": {"opens_at": "2026-03-02T12:00:00+00:00"},
    }
    frozen_clock.advance(hours=2, minutes=59)  # one minute before the window
    desk, patient = await clinic.staff(Role.receptionist), await clinic.renew(patient)
    assert _refusal(await _check_in(clinic, desk, by_desk)) == (409, expected)
    assert _refusal(await _check_in(clinic, patient, by_self)) == (409, expected)
    frozen_clock.advance(minutes=1)
    assert (await _check_in(clinic, desk, by_desk)).status_code == 201
    assert (await _check_in(clinic, patient, by_self)).status_code == 201


async def test_a_late_patient_is_checked_in_past_the_grace_by_either(
    clinic: QueueClinic, frozen_clock: FrozenClock
) -> None:
    doctor, _ = await clinic.doctor()
    other_doctor, _ = await clinic.doctor()
    by_desk, _ = await _booked(clinic, doctor, AFTERNOON[0])  # 11:00 UTC
    by_self, patient = await _booked(clinic, other_doctor, AFTERNOON[0])
    frozen_clock.advance(hours=2, minutes=45)  # 45 minutes late, past the 10-minute grace
    desk, patient = await clinic.front_desk(), await clinic.renew(patient)
    assert (await _check_in(clinic, desk, by_desk)).status_code == 201
    assert (await _check_in(clinic, patient, by_self)).status_code == 201


async def test_the_desk_page_shows_when_check_in_opens_and_refuses_before(
    clinic: QueueClinic, browser: Browser
) -> None:
    doctor, _ = await clinic.doctor()
    appointment_id, _ = await _booked(clinic, doctor, AFTERNOON[8])
    receptionist = await clinic.accounts.make(Role.receptionist)
    async with browser() as desk:
        await sign_in_page_staff(desk, receptionist)
        page = await desk.get("/desk/queue")
        [listed] = parse(page.text).one("appointments").all("check-in-appointment")
        assert "disabled" in listed.attrs
        assert parse(page.text).one("check-in-opens").text == "Check-in opens at 15:00."
        refused = await desk.post(
            "/desk/queue/check-in",
            data={"csrf_token": csrf_from(page.text), "appointment_id": appointment_id},
        )
        assert refused.status_code == 409
        assert "Check-in opens at 15:00." in refused.text
