"""An in-person visit from the desk to the patient's phone, in three real browsers.

The receptionist registers a walk-in with a date of birth (and a second walk-in behind
her). The doctor calls her: the call opens the visit, so the chart is there to write in.
The doctor records a penicillin allergy, picks amoxicillin from the formulary as they type,
is warned before Issue, changes to azithromycin, issues it, and with one click finishes the
visit and calls the next patient. On her phone the patient finds the visit, marked in
person, with its prescription.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE, LiveServer, StaffAccount
from tests.e2e.people import register_walk_in, say_yes, sign_in_patient, sign_in_staff

pytestmark = pytest.mark.browser

WALK_IN = ("Rehema Ali", "+254733000123")
NEXT_WALK_IN = ("Juma Said", "+254733000124")


def _register_with_birth_date(desk: Page, doctor_name: str) -> None:
    form = desk.locator("[data-testid=walk-in-form]")
    form.get_by_test_id("date-of-birth").fill("1991-02-14")
    form.get_by_test_id("sex").select_option("female")
    register_walk_in(desk, doctor_name, *WALK_IN)
    expect(desk.locator("[data-testid=receipt]")).to_contain_text(WALK_IN[0])


def test_a_walk_in_is_seen_prescribed_safely_and_finds_the_visit_on_her_phone(
    three_people: tuple[Page, Page, Page], live_server: LiveServer, receptionist: StaffAccount
) -> None:
    desk, patient, doctor = three_people
    errors: list[str] = []
    for page in three_people:
        page.on("pageerror", lambda error: errors.append(str(error)))

    sign_in_staff(doctor, live_server.doctor.email, live_server.doctor.password)
    doctor.wait_for_url("**/home")
    doctor.goto("/doctor/queue")
    expect(doctor.locator("[data-testid=connection]")).to_have_attribute("data-state", "connected")

    sign_in_staff(desk, receptionist.email, receptionist.password)
    desk.wait_for_url("**/home")
    desk.goto("/desk/queue")
    _register_with_birth_date(desk, live_server.doctor.name)
    register_walk_in(desk, live_server.doctor.name, *NEXT_WALK_IN)
    expect(desk.locator("[data-testid=receipt]")).to_contain_text(NEXT_WALK_IN[0])

    # The call opens the visit: the card links to the chart and to the visit in it.
    expect(doctor.locator("[data-testid=next-patients] [data-testid=queue-row]")).to_have_count(2)
    doctor.locator("[data-testid=call-next]").click()
    expect(doctor.locator("[data-testid=current-name]")).to_have_text(WALK_IN[0])
    doctor.locator("[data-testid=current-visit]").click()
    doctor.wait_for_url("**/patients/*/chart*")
    chart_path = doctor.url.removeprefix(live_server.base_url).split("#")[0]
    summary = doctor.locator("[data-testid=chart-summary]")
    expect(summary).to_contain_text(WALK_IN[0])
    expect(summary).to_contain_text("Female")

    allergy = doctor.locator("[data-testid=allergy-form]")
    allergy.locator("[data-testid=allergy-substance]").fill("Penicillin")
    allergy.locator("[data-testid=allergy-reaction]").fill("Rash")
    allergy.locator("[data-testid=allergy-severity]").select_option("severe")
    allergy.locator("[data-testid=add-allergy]").click()
    expect(summary.locator("[data-testid=allergy-line]")).to_contain_text("Penicillin")

    # Prescribed during the visit, before Finish.
    prescription = doctor.locator("[data-testid=prescription-form]")
    name = prescription.locator("[data-testid=name-0]")
    name.fill("amox")
    expect(prescription.locator("datalist option").first).to_be_attached()
    name.fill("amoxicillin (capsule)")
    expect(name).to_have_value("amoxicillin")
    warning = prescription.locator("[data-testid=prescribing-warning]")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Penicillin")
    name.fill("Azithromycin")
    prescription.locator("[data-testid=strength-0]").fill("500 mg")
    prescription.locator("[data-testid=dosage-0]").fill("1 tablet")
    prescription.locator("[data-testid=frequency-0]").fill("once a day")
    expect(warning).to_be_hidden()
    # Chromium's own datalist suggestions may still be open and take a pointer click.
    prescription.locator("[data-testid=issue]").dispatch_event("click")
    say_yes(doctor)
    expect(doctor.locator("[data-testid=medication]")).to_contain_text("Azithromycin")

    # One click ends her visit and calls the next walk-in.
    doctor.goto("/doctor/queue")
    expect(doctor.locator("[data-testid=current-name]")).to_have_text(WALK_IN[0])
    doctor.locator("[data-testid=finish-and-call-next]").click()
    expect(doctor.locator("[data-testid=current-name]")).to_have_text(NEXT_WALK_IN[0])

    # The chart of a patient who was seen stays open to the doctor who saw her.
    assert doctor.request.get(live_server.url(chart_path)).status == 200

    patient.set_viewport_size(PHONE)
    sign_in_patient(patient, live_server, WALK_IN[1])
    patient.goto("/records")
    visit = patient.locator("[data-testid=record-item][data-kind=consultation]")
    expect(visit).to_have_count(1)
    expect(visit).to_contain_text("In person")
    expect(visit.locator("[data-testid=medication]")).to_contain_text("Azithromycin 500 mg")
    assert errors == []
