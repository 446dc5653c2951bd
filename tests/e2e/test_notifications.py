"""The bell and the list in a real browser: the patient's unread count rises live when the
doctor accepts their consultation, on whatever page the patient has open, and a new
notification appears in the open notifications list without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DESKTOP, LiveServer
from tests.e2e.people import say_yes, sign_in_patient, sign_in_staff

pytestmark = pytest.mark.browser


def test_the_patients_bell_rises_live_when_the_doctor_accepts(
    page: Page, browser: Browser, live_server: LiveServer
) -> None:
    sign_in_patient(page, live_server, live_server.patient.phone)
    page.goto("/consultations")
    form = page.locator("[data-testid=start-form]")
    form.locator("textarea[name=problem]").fill("Fever since yesterday")
    form.locator("[data-testid=start]").click()
    page.wait_for_url("**/consultations/*")
    page.goto("/home")
    bell = page.locator("[data-testid=bell]")
    expect(bell).to_have_attribute("data-unread", "0")
    expect(page.locator("[data-testid=bell-count]")).to_be_hidden()

    doctor_context = browser.new_context(
        base_url=live_server.base_url, locale="en-US", viewport=DESKTOP
    )
    try:
        doctor = doctor_context.new_page()
        sign_in_staff(doctor, live_server.doctor.email, live_server.doctor.password)
        doctor.wait_for_url("**/home")
        # The doctor's own bell is there too, for every role.
        expect(doctor.locator("[data-testid=bell]")).to_be_visible()
        doctor.goto("/consultations")
        doctor.locator("[data-testid=pending] [data-testid=open]").first.click()
        doctor.locator("[data-testid=accept]").click()
        expect(doctor.locator("[data-testid=status]")).to_have_text("In progress")

        # No reload: the count arrives over the socket.
        expect(page.locator("[data-testid=bell-count]")).to_have_text("1")
        expect(bell).to_have_attribute("data-unread", "1")
        # What a screen reader says is what the eye sees: the word and the count.
        expect(bell).to_have_accessible_name("Notifications 1")
        page.locator("[data-testid=bell]").click()
        page.wait_for_url("**/notifications")
        item = page.locator("[data-testid=notification]")
        expect(item).to_have_count(1)
        expect(item).to_contain_text("Consultation accepted")
        page.locator("[data-testid=read-all]").click()
        expect(page.locator("[data-testid=bell-count]")).to_be_hidden()
        expect(page.locator("[data-testid=read-all]")).to_have_count(0)

        # With the list open, the doctor ends the consultation: the new notification is
        # swapped into the list (the server's block of the page), the page is not reloaded.
        page.evaluate("window.stillTheSamePage = true")
        doctor.locator("[data-testid=end]").click()
        say_yes(doctor)
        expect(doctor.locator("[data-testid=status]")).to_have_text("Ended")
    finally:
        doctor_context.close()

    expect(item).to_have_count(2)
    expect(item.first).to_contain_text("Consultation ended")
    expect(item.first).to_have_class("notification unread priority-low")
    expect(page.locator("[data-testid=read-all]")).to_be_visible()
    expect(page.locator("[data-testid=bell-count]")).to_have_text("1")
    assert page.evaluate("window.stillTheSamePage") is True
