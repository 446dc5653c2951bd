"""Medical records in real browsers: after "end" the doctor writes notes (with a script and
a javascript: link in them) and a prescription from the chart; the patient opens "My
records" on a phone, sees the visit, and nothing in the note runs or links anywhere unsafe."""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.people import no_horizontal_scroll, say_yes, sign_in_patient, sign_in_staff

pytestmark = pytest.mark.browser

NOTE = (
    "Throat **red**.\n\n<script>window.__xss = 'script'</script>\n\n"
    "[open me](javascript:window.__xss='link') and [guidelines](https://example.org/guide)\n\n"
    "<img src=x onerror=\"window.__xss='img'\">"
)


def test_notes_and_prescription_after_finish_reach_my_records_inert(
    two_people: tuple[Page, Page], live_server: LiveServer
) -> None:
    patient, doctor = two_people
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    patient.on("dialog", record)

    sign_in_patient(patient, live_server, live_server.patient.phone)
    patient.goto("/consultations")
    form = patient.locator("[data-testid=start-form]")
    form.locator("textarea[name=problem]").fill("Sore throat")
    form.locator("[data-testid=start]").click()
    patient.wait_for_url("**/consultations/*")

    sign_in_staff(doctor, live_server.doctor.email, live_server.doctor.password)
    doctor.wait_for_url("**/home")
    doctor.goto(patient.url.replace(live_server.base_url, ""))
    doctor.locator("[data-testid=accept]").click()
    expect(doctor.locator("[data-testid=status]")).to_have_text("In progress")
    doctor.locator("[data-testid=end]").click()
    say_yes(doctor)
    expect(doctor.locator("[data-testid=status]")).to_have_text("Ended")

    # After "end" the chart opens on this visit with the forms.
    doctor.locator("[data-testid=chart-link]").click()
    doctor.wait_for_url("**/patients/*/chart*")
    doctor.locator("[data-testid=note-text]").fill(NOTE)
    doctor.locator("[data-testid=note-diagnosis]").fill("Pharyngitis")
    doctor.locator("[data-testid=save-note]").click()
    doctor.wait_for_url("**/chart#visit-*")
    prescription = doctor.locator("[data-testid=prescription-form]")
    prescription.locator("[data-testid=name-0]").fill("Amoxicillin")
    prescription.locator("[data-testid=strength-0]").fill("500 mg")
    prescription.locator("[data-testid=dosage-0]").fill("1 capsule")
    prescription.locator("[data-testid=frequency-0]").fill("3 times a day")
    prescription.locator("[data-testid=warning_signs]").fill("Difficulty breathing")
    prescription.locator("[data-testid=issue]").click()
    say_yes(doctor)
    expect(doctor.locator("[data-testid=medication]")).to_contain_text("Amoxicillin")

    patient.goto("/records")
    item = patient.locator("[data-testid=record-item][data-kind=consultation]")
    expect(item).to_have_count(1)
    item.locator("summary").click()
    body = item.locator("[data-testid=note-body]")
    expect(body).to_contain_text("Throat red.")
    expect(body).to_contain_text("<script>window.__xss = 'script'</script>")  # shown as text
    expect(body.locator("script, img")).to_have_count(0)
    links = body.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://example.org/guide")
    expect(links).to_have_attribute("target", "_blank")
    expect(links).to_have_attribute("rel", "noopener noreferrer nofollow")
    body.get_by_text("open me", exact=False).click()  # plain text: clicking does nothing
    expect(item.locator("[data-testid=medication]")).to_contain_text("Amoxicillin 500 mg")
    expect(item).to_contain_text("Difficulty breathing")
    assert patient.evaluate("window.__xss") is None
    assert dialogs == []
    no_horizontal_scroll(patient)

    with patient.expect_download() as download:
        item.locator("[data-testid=prescription-pdf-en]").click()
    assert download.value.suggested_filename.startswith("prescription-")
    assert (download.value.path().read_bytes())[:5] == b"%PDF-"
