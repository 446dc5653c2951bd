"""The assistant in two real browsers: the doctor asks `@b remember`, then `@b what did I say
about …`, and sees the answer stream in, marked private; the patient sees none of it (nor
any memory panel) until the doctor shares an answer."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.people import in_consultation, say_yes

pytestmark = pytest.mark.browser
Screenshot = Callable[[Page, str], Path]

# Records every streaming bubble and the text it showed, before the stored answer replaced it.
WATCH_STREAMING = """
() => {
  window.__streamed = [];
  new MutationObserver((records) => {
    for (const record of records) {
      const bubble = record.target.closest && record.target.closest("li.streaming");
      for (const node of record.addedNodes) {
        if (node.matches && node.matches("li.streaming")) window.__streamed.push("");
      }
      if (bubble) window.__streamed.push(bubble.querySelector("p").textContent);
    }
  }).observe(document.querySelector("[data-messages]"), {
    childList: true, subtree: true, characterData: true,
  });
}
"""


def send(page: Page, text: str) -> None:
    page.locator("[data-testid=composer] textarea").fill(text)
    page.locator("[data-testid=send]").click()


def test_the_doctor_remembers_and_recalls_and_the_patient_sees_no_memory(
    two_people: tuple[Page, Page], live_server: LiveServer, screenshot: Screenshot
) -> None:
    patient, doctor = two_people
    in_consultation(patient, doctor, live_server, "Headaches in the morning")

    panel = doctor.locator("[data-testid=memory-panel]")
    expect(panel).to_be_visible()
    expect(panel.locator("[data-testid=memory-items]")).to_contain_text("Nothing remembered yet.")
    doctor.evaluate("window.__samePage = true")
    send(doctor, "@b remember BP 150/95, recheck in two weeks")
    expect(panel.locator("[data-testid=memory-item]")).to_have_count(1)
    expect(panel.locator("[data-testid=memory-item]")).to_contain_text(
        "BP 150/95, recheck in two weeks"
    )
    # The server drew the item and the page swapped it in: no reload.
    assert doctor.evaluate("window.__samePage") is True

    doctor.evaluate(WATCH_STREAMING)
    send(doctor, "@b what did I say about BP?")
    answers = doctor.locator("[data-testid=messages] li.bubble.assistant:not(.streaming)")
    expect(answers).to_have_count(2)
    answer = answers.last
    expect(answer).to_contain_text('what this consultation holds about "BP"')
    expect(answer).to_contain_text("BP 150/95, recheck in two weeks")
    expect(answer).to_contain_text("Assistant")
    expect(doctor.locator("li.streaming")).to_have_count(0)
    streamed = doctor.evaluate("window.__streamed")
    partial = [text for text in streamed if text]
    assert streamed, "no streaming bubble was shown"
    assert len(set(partial)) >= 2, f"the text did not grow piece by piece: {streamed}"

    # The doctor's thread is private: marked, and kept on reload.
    expect(answer).to_have_class(re.compile(r"\bprivate\b"))
    expect(answer).to_contain_text("Private: only you see this")
    doctor.reload()
    expect(doctor.locator("[data-testid=messages] li.bubble.private")).to_have_count(4)
    answer = doctor.locator("[data-testid=messages] li.bubble.assistant.private").last
    # Shared, the answer reaches the patient as the doctor's message; nothing else did.
    answer.locator("[data-testid=assistant-share]").click()
    expect(answer.locator("[data-testid=assistant-share]")).to_have_text("Shared with the patient")
    shared = patient.locator("[data-testid=messages] li", has_text="BP 150/95")
    expect(shared).to_have_count(1)
    expect(shared).to_have_class(re.compile(r"\btheirs\b"))
    expect(shared).to_contain_text('what this consultation holds about "BP"')
    expect(patient.locator("[data-testid=messages]")).not_to_contain_text("@b")
    expect(patient.locator("[data-testid=messages] li.bubble.assistant")).to_have_count(0)
    expect(patient.locator("[data-testid=memory-panel]")).to_have_count(0)
    expect(patient.locator("[data-testid=remember]")).to_have_count(0)
    screenshot(doctor, "assistant-private-doctor")
    screenshot(patient, "assistant-shared-patient")
    memory = patient.request.get(
        patient.url.replace("/consultations/", "/api/consultations/") + "/assistant/memory"
    )
    assert memory.status == 403

    # The doctor edits and deletes on the panel; "Remember" on a message adds it.
    item = panel.locator("[data-testid=memory-item]")
    item.locator("[data-testid=memory-edit]").click()
    panel.locator("textarea").fill("BP 150/95, recheck in one week")
    panel.locator("[data-testid=memory-save]").click()
    expect(item).to_contain_text("recheck in one week")
    send(patient, "I also get dizzy when standing")
    message = doctor.locator("[data-testid=messages] li", has_text="dizzy when standing")
    message.locator("[data-testid=remember]").click()
    expect(panel.locator("[data-testid=memory-item]")).to_have_count(2)
    panel.locator("[data-testid=memory-item]").first.locator("[data-testid=memory-delete]").click()
    expect(panel.locator("[data-testid=memory-item]")).to_have_count(1)
    expect(panel.locator("[data-testid=memory-item]")).to_contain_text("dizzy when standing")


def test_a_drafted_prescription_is_issued_from_the_prefilled_form(
    two_people: tuple[Page, Page], live_server: LiveServer
) -> None:
    patient, doctor = two_people
    in_consultation(patient, doctor, live_server, "Sore throat and fever")

    send(doctor, "@b remember Amoxicillin 500 mg three times a day for 7 days")
    expect(doctor.locator("[data-testid=memory-item]")).to_have_count(1)
    send(doctor, "@b draft prescription")
    drafted = doctor.locator("[data-testid=draft]")
    expect(drafted.locator("[data-testid=draft-medication]")).to_have_text(
        "Amoxicillin · 500 mg · three times a day · 7 days"
    )
    expect(drafted).to_contain_text("once the consultation has ended")
    notice = "The assistant prepared a draft for the doctor to check."
    expect(doctor.locator("[data-testid=messages]")).to_contain_text(notice)
    expect(patient.locator("[data-testid=messages]")).not_to_contain_text(notice)
    expect(patient.locator("[data-testid=draft]")).to_have_count(0)
    expect(patient.locator("[data-testid=messages]")).not_to_contain_text("medications")

    doctor.locator("[data-testid=end]").click()
    say_yes(doctor)
    expect(doctor.locator("[data-testid=status]")).to_have_text("Ended")
    doctor.reload()  # the draft is kept on the server
    expect(drafted.locator("[data-testid=draft-medication]")).to_have_count(1)
    drafted.locator("[data-testid=draft-open]").click()
    doctor.wait_for_url("**/patients/*/chart#prescription-*")
    prescription = doctor.locator("[data-testid=prescription-form]")
    expect(prescription.locator("[data-testid=name-0]")).to_have_value("Amoxicillin")
    expect(prescription.locator("[data-testid=strength-0]")).to_have_value("500 mg")
    expect(prescription.locator("[data-testid=frequency-0]")).to_have_value("three times a day")
    expect(prescription.locator("[data-testid=duration-0]")).to_have_value("7 days")
    expect(prescription.locator("[data-testid=name-1]")).to_have_value("")
    prescription.locator("[data-testid=dosage-0]").fill("1 capsule")
    prescription.locator("[data-testid=issue]").click()
    say_yes(doctor)
    expect(doctor.locator("[data-testid=medication]")).to_contain_text("Amoxicillin")
    expect(doctor.locator("[data-testid=draft-discard-form]")).to_have_count(0)

    patient.goto("/records")
    item = patient.locator("[data-testid=record-item][data-kind=consultation]")
    item.locator("summary").click()
    expect(item.locator("[data-testid=medication]")).to_contain_text(
        "Amoxicillin 500 mg · 1 capsule"
    )
    expect(item.locator("[data-testid=medication]")).to_contain_text("three times a day · 7 days")
