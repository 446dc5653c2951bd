"""What cannot be undone asks first, in the page's own dialog: here a doctor marking a patient
who was never called as not here (the chat's end, a prescription's issue and an appointment's
cancel ask too; their browser tests answer the question on the way)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.people import register_walk_in, say_yes, serious_problems, sign_in_staff

pytestmark = pytest.mark.browser


def test_marking_a_waiting_patient_not_here_asks_first(
    two_people: tuple[Page, Page], live_server: LiveServer
) -> None:
    desk, doctor = two_people
    sign_in_staff(doctor, live_server.doctor.email, live_server.doctor.password)
    doctor.wait_for_url("**/home")
    doctor.goto("/doctor/queue")
    sign_in_staff(desk, live_server.admin.email, live_server.admin.password)
    desk.wait_for_url("**/home")
    desk.goto("/desk/queue")
    register_walk_in(desk, live_server.doctor.name, "Rehema Ali", "+254733000125")
    expect(desk.locator("[data-testid=receipt]")).to_be_visible()

    rows = doctor.locator("[data-testid=next-patients] [data-testid=queue-row]")
    expect(rows).to_have_count(1)
    dialog = doctor.get_by_test_id("confirm-dialog")
    rows.first.get_by_test_id("row-no-show").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("They have not been called yet.")
    assert serious_problems(doctor) == []
    doctor.get_by_test_id("confirm-no").click()
    expect(dialog).to_be_hidden()
    doctor.wait_for_timeout(300)
    expect(rows).to_have_count(1)

    rows.first.get_by_test_id("row-no-show").click()
    say_yes(doctor)
    expect(rows).to_have_count(0)
