"""A video call inside the consultation, between two real Chromiums with fake camera and
microphone: ringing, accept, media both ways, mute, hang-up and the history; and a browser
that refuses the camera and microphone, whose chat keeps working.

The browsers here are launched by this module (not the session's shared one): media needs
Chromium's fake-device flags, and the refusal test needs a browser without the fake-UI one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, LiveServer
from tests.e2e.people import axe_violations, sign_in_patient, sign_in_staff, wait_until

pytestmark = pytest.mark.browser

FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
# The page's test hooks (call.js): the call panel, and the call in progress.
ROOT = "document.querySelector('[data-call-root]')"
CALL = ROOT + ".callState()"


@contextmanager
def chromium(shared: Browser, *extra: str) -> Iterator[Browser]:
    """Another Chromium, from the same Playwright as the session's browser (a second
    Playwright cannot start in a thread where one runs)."""
    browser = shared.browser_type.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra], headless=True
    )
    try:
        yield browser
    finally:
        browser.close()


def context(browser: Browser, live_server: LiveServer, **options: object) -> BrowserContext:
    made = browser.new_context(
        base_url=live_server.base_url, locale="en-US", viewport=DESKTOP, **options
    )
    made.set_default_timeout(15_000)
    return made


def open_video_consultation(patient: Page, doctor: Page, live_server: LiveServer) -> str:
    """The patient asks for a video consultation, the doctor accepts: both on its page."""
    sign_in_patient(patient, live_server, live_server.patient.phone)
    patient.goto("/consultations")
    form = patient.locator("[data-testid=start-form]")
    form.locator("textarea[name=problem]").fill("A rash on my arm")
    form.locator("input[name=type][value=video]").check()
    form.locator("[data-testid=start]").click()
    patient.wait_for_url(re.compile(r"/consultations/[0-9a-f-]{36}$"))
    url = patient.url
    sign_in_staff(doctor, live_server.doctor.email, live_server.doctor.password)
    doctor.wait_for_url("**/home")
    doctor.goto(url)
    doctor.locator("[data-testid=accept]").click()
    expect(doctor.locator("[data-testid=status]")).to_have_text("In progress")
    expect(patient.locator("[data-testid=start-video-call]")).to_be_visible()
    for page in (patient, doctor):
        expect(page.locator("[data-testid=connection]")).to_have_attribute(
            "data-state", "connected"
        )
    return url


STATS = """async (kind) => {
  const call = document.querySelector('[data-call-root]').callState();
  if (!call || !call.pc) return null;
  const stats = await call.pc.getStats();
  const out = {};
  stats.forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') out.framesIn = r.framesDecoded || 0;
    if (r.type === 'outbound-rtp' && r.kind === 'audio') out.audioOut = r.packetsSent || 0;
  });
  out.state = call.pc.connectionState;
  out.audioSender = Boolean(call.pc.getSenders().find((s) => s.track && s.track.kind === 'audio'));
  return out;
}"""


def stats(page: Page) -> dict[str, int | str | bool]:
    value = page.evaluate(STATS)
    assert value is not None
    return dict(value)


def arrived(page: Page, key: str, wait: float = 20.0) -> None:
    """Wait until the first of `key` is counted (the first frames take a while to come)."""
    deadline = time.monotonic() + wait
    while not stats(page).get(key):
        assert time.monotonic() < deadline, f"no {key} within {wait} s"
        time.sleep(0.2)


def grows(page: Page, key: str, seconds: float = 1.5) -> bool:
    arrived(page, key)
    before = stats(page)[key]
    time.sleep(seconds)
    after = stats(page)[key]
    assert isinstance(before, int)
    assert isinstance(after, int)
    return after > before


def test_doctor_calls_patient_accepts_media_flows_mute_and_hang_up(
    browser: Browser, live_server: LiveServer
) -> None:
    with chromium(browser, *FAKE_MEDIA) as media:
        patient_context = context(media, live_server)
        doctor_context = context(media, live_server)
        patient, doctor = patient_context.new_page(), doctor_context.new_page()
        open_video_consultation(patient, doctor, live_server)

        doctor.locator("[data-testid=start-video-call]").click()
        expect(doctor.locator("[data-testid=call-state]")).to_have_text("Calling…")
        ringing = patient.locator("[data-testid=call-ringing]")
        expect(ringing).to_be_visible()
        expect(ringing).to_contain_text(f"{live_server.doctor.name} is calling you")
        patient.locator("[data-testid=call-accept]").click()

        for page in (doctor, patient):
            expect(page.locator("[data-testid=call-state]")).to_have_text("Connected")
            assert stats(page)["state"] == "connected"
        # Each side decodes the other's video, frame after frame.
        for page in (doctor, patient):
            assert grows(page, "framesIn"), "no inbound video frames"
        expect(doctor.locator("[data-testid=call-timer]")).not_to_have_text("0:00")
        # The call's controls pass axe-core like every page (no serious problem).
        serious = [
            (violation["id"], [node["target"] for node in violation["nodes"]])
            for violation in axe_violations(patient)
            if violation["impact"] in {"serious", "critical"}
        ]
        assert serious == []

        # An ICE restart (what a dropped network starts) renegotiates through the server's
        # relay on the same call: new ICE credentials, still connected, video still flowing.
        ufrag = CALL + ".pc.localDescription.sdp.match(/a=ice-ufrag:(\\S+)/)[1]"
        before = doctor.evaluate(ufrag)
        call_id = doctor.evaluate(CALL + ".id")
        doctor.evaluate(ROOT + ".restartIce()")
        wait_until(doctor, f"{ufrag} !== {before!r}")
        wait_until(
            patient, CALL + f".pc.remoteDescription.sdp.indexOf('a=ice-ufrag:{before}') === -1"
        )
        assert doctor.evaluate(CALL + ".id") == call_id
        for page in (doctor, patient):
            expect(page.locator("[data-testid=call-state]")).to_have_text("Connected")
            assert grows(page, "framesIn"), "no video after the ICE restart"

        # Muting takes the microphone off the connection: no audio packet leaves.
        assert grows(patient, "audioOut")
        patient.locator("[data-testid=call-mute]").click()
        expect(patient.locator("[data-testid=call-mute]")).to_have_attribute("aria-pressed", "true")
        assert stats(patient)["audioSender"] is False
        time.sleep(0.5)
        assert not grows(patient, "audioOut"), "audio still sent while muted"

        # The chat goes on beside the call, and can be put away.
        patient.locator("[data-testid=call-chat-toggle]").click()
        expect(patient.locator("[data-testid=composer]")).to_be_hidden()
        patient.locator("[data-testid=call-chat-toggle]").click()
        expect(patient.locator("[data-testid=composer]")).to_be_visible()

        time.sleep(1.2)
        doctor.locator("[data-testid=call-hangup]").click()
        for page in (doctor, patient):
            expect(page.locator("[data-testid=call-stage]")).to_be_hidden()
            row = page.locator("[data-testid=call-history] [data-testid=call-row]")
            expect(row).to_have_count(1)
            expect(row).to_have_attribute("data-status", "ended")
            expect(row.locator("[data-testid=call-duration]")).to_contain_text(
                re.compile(r"lasted (\d+ min )?\d+ s")
            )
        expect(patient.locator("[data-testid=call-notice]")).to_have_text("Call ended")
        patient_context.close()
        doctor_context.close()


def test_a_refused_camera_and_microphone_is_explained_and_the_chat_still_works(
    browser: Browser, live_server: LiveServer
) -> None:
    # Fake devices, but no fake UI: the context refuses the permission, as a person can.
    with chromium(browser, "--use-fake-device-for-media-stream") as media:
        patient_context = context(media, live_server, permissions=[])
        doctor_context = context(media, live_server)
        patient, doctor = patient_context.new_page(), doctor_context.new_page()
        open_video_consultation(patient, doctor, live_server)

        patient.locator("[data-testid=start-video-call]").click()
        notice = patient.locator("[data-testid=call-notice]")
        expect(notice).to_contain_text("not allowing the camera or microphone")
        expect(notice).to_contain_text("keep writing in the chat")
        expect(patient.locator("[data-testid=call-stage]")).to_be_hidden()
        expect(patient.locator("[data-testid=start-video-call]")).to_be_visible()
        # Nothing rang on the other side.
        expect(doctor.locator("[data-testid=call-ringing]")).to_be_hidden()

        patient.locator("[data-testid=composer] textarea").fill("My camera is blocked")
        patient.locator("[data-testid=send]").click()
        expect(doctor.locator("[data-testid=messages]")).to_contain_text("My camera is blocked")
        patient_context.close()
        doctor_context.close()
