"""Safe prescribing in a real browser, on a phone-size screen in Swahili: after the visit the
doctor records a severe penicillin allergy on the chart (the header turns red), picks
amoxicillin from the formulary as they type (strength filled in), sees the warning before
Issue, changes to azithromycin and issues. Screenshots of the chart and the form; axe finds
no serious problem on either."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE, LiveServer
from tests.e2e.people import (
    axe_violations,
    no_horizontal_scroll,
    say_yes,
    sign_in_patient,
    sign_in_staff,
)
from tests.e2e.test_accessibility import SERIOUS, _in_swahili

pytestmark = pytest.mark.browser


def _serious(page: Page) -> list[str]:
    return [
        f"{violation['id']} on " + ", ".join(str(n["target"]) for n in violation["nodes"][:3])
        for violation in axe_violations(page)
        if violation["impact"] in SERIOUS
    ]


def test_the_chart_warns_before_an_allergic_prescription(
    two_people: tuple[Page, Page],
    live_server: LiveServer,
    screenshot: Callable[[Page, str], Path],
) -> None:
    patient, doctor = two_people
    doctor.set_viewport_size(PHONE)
    sign_in_patient(patient, live_server, live_server.patient.phone)
    patient.goto("/consultations")
    form = patient.locator("[data-testid=start-form]")
    form.locator("textarea[name=problem]").fill("Sore throat")
    form.locator("[data-testid=start]").click()
    patient.wait_for_url("**/consultations/*")

    sign_in_staff(doctor, live_server.doctor.email, live_server.doctor.password)
    doctor.wait_for_url("**/home")
    _in_swahili(doctor)
    doctor.goto(patient.url.replace(live_server.base_url, ""))
    doctor.locator("[data-testid=accept]").click()
    doctor.locator("[data-testid=end]").click()
    say_yes(doctor)
    expect(doctor.locator("[data-testid=status]")).to_have_class("badge status-ended")
    doctor.locator("[data-testid=chart-link]").click()
    doctor.wait_for_url("**/patients/*/chart*")

    allergy = doctor.locator("[data-testid=allergy-form]")
    allergy.locator("[data-testid=allergy-substance]").fill("Penicillin")
    allergy.locator("[data-testid=allergy-reaction]").fill("Hives")
    allergy.locator("[data-testid=allergy-severity]").select_option("severe")
    allergy.locator("[data-testid=add-allergy]").click()
    doctor.wait_for_url("**/chart#clinical-lists")
    line = doctor.locator("[data-testid=chart-summary] [data-testid=allergy-line]")
    expect(line).to_contain_text("Penicillin")
    expect(line).to_have_class("allergy-line allergy-severe")
    no_horizontal_scroll(doctor)
    screenshot(doctor, "chart-sw-phone")
    assert _serious(doctor) == []

    prescription = doctor.locator("[data-testid=prescription-form]")
    name = prescription.locator("[data-testid=name-0]")
    name.fill("amox")
    expect(prescription.locator("datalist option").first).to_be_attached()
    name.fill("amoxicillin (capsule)")
    expect(name).to_have_value("amoxicillin")
    expect(prescription.locator("[data-testid=strength-0]")).to_have_value("250 mg")
    expect(prescription.locator("[data-testid=route-0]")).to_have_value("oral")
    warning = prescription.locator("[data-testid=prescribing-warning]")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Penicillin")
    prescription.scroll_into_view_if_needed()
    screenshot(doctor, "prescription-form-sw-phone")
    assert _serious(doctor) == []

    # Issued as it is, the server refuses it too.
    prescription.locator("[data-testid=override-reason]").evaluate("e => e.required = false")
    # Chromium's own datalist suggestions may still be open and take a pointer click, so
    # the button gets its click as an event.
    prescription.locator("[data-testid=issue]").dispatch_event("click")
    say_yes(doctor)
    expect(doctor.locator("[data-testid=form-error]")).to_contain_text("Penicillin")

    prescription = doctor.locator("[data-testid=prescription-form]")
    prescription.locator("[data-testid=name-0]").fill("Azithromycin")
    prescription.locator("[data-testid=strength-0]").fill("500 mg")
    expect(prescription.locator("[data-testid=prescribing-warning]")).to_be_hidden()
    prescription.locator("[data-testid=issue]").dispatch_event("click")
    say_yes(doctor)
    expect(doctor.locator("[data-testid=medication]")).to_contain_text("Azithromycin")

    # "Repeat last prescription" copies it into the form.
    prescription = doctor.locator("[data-testid=prescription-form]")
    prescription.locator("[data-testid=repeat-last]").click()
    expect(prescription.locator("[data-testid=name-0]")).to_have_value("Azithromycin")
    prescription.locator("[data-testid=add-row]").click()
    expect(prescription.locator(".medication-row")).to_have_count(4)
