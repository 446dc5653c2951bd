"""The live queue in three real browsers: a receptionist registers walk-ins at the desk, the
patient's waiting room (on a phone) shows their place, and when the doctor calls them from
the doctor's page the waiting room says "It's your turn" without a reload. The desk, drawn
by the server, follows another desk's walk-in and the doctor's call without a reload too."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PHONE, LiveServer, StaffAccount
from tests.e2e.people import (
    no_horizontal_scroll,
    register_walk_in,
    sign_in_patient,
    sign_in_staff,
)

pytestmark = pytest.mark.browser

FIRST_WALK_IN = ("Baraka Mutua", "+254711000088")


def test_a_walk_in_waits_and_the_waiting_room_says_it_is_their_turn(
    three_people: tuple[Page, Page, Page], live_server: LiveServer, receptionist: StaffAccount
) -> None:
    desk, patient, doctor = three_people
    errors: list[str] = []
    for page in three_people:
        page.on("pageerror", lambda error: errors.append(str(error)))

    # The doctor opens their queue first: following it is what makes them present.
    sign_in_staff(doctor, live_server.doctor.email, live_server.doctor.password)
    doctor.wait_for_url("**/home")
    doctor.goto("/doctor/queue")
    expect(doctor.locator("[data-testid=connection]")).to_have_attribute("data-state", "connected")
    expect(doctor.locator("[data-testid=call-next]")).to_be_disabled()

    # The receptionist registers two walk-ins; the second is the patient of this test.
    sign_in_staff(desk, receptionist.email, receptionist.password)
    desk.wait_for_url("**/home")
    desk.goto("/desk/queue")
    register_walk_in(desk, live_server.doctor.name, *FIRST_WALK_IN)
    expect(desk.locator("[data-testid=receipt]")).to_contain_text(f"Token 1 for {FIRST_WALK_IN[0]}")
    register_walk_in(
        desk, live_server.doctor.name, live_server.patient.name, live_server.patient.phone
    )
    expect(desk.locator("[data-testid=receipt]")).to_contain_text(
        f"Token 2 for {live_server.patient.name}"
    )
    desk_rows = desk.locator("[data-testid=doctor-queue] [data-testid=queue-row]")
    expect(desk_rows).to_have_count(2)
    expect(desk.locator("[data-testid=connection]")).to_have_attribute("data-state", "connected")

    # The doctor's page learned of both without a reload.
    expect(doctor.locator("[data-testid=next-patients] [data-testid=queue-row]")).to_have_count(2)

    # The patient signs in on their phone with a code and opens the waiting room.
    sign_in_patient(patient, live_server, live_server.patient.phone)
    patient.goto("/queue")
    expect(patient.locator("[data-testid=connection]")).to_have_attribute("data-state", "connected")
    place = patient.locator("[data-testid=place]")
    expect(place.locator("[data-testid=my-token]")).to_have_text("2")
    expect(place.locator("[data-testid=position]")).to_have_text("1 patient ahead of you")
    expect(place.locator("[data-testid=estimate]")).to_contain_text("min")
    expect(place.locator("[data-testid=your-turn]")).to_be_hidden()
    no_horizontal_scroll(patient)

    # The doctor calls the first walk-in: the patient moves up, live.
    doctor.locator("[data-testid=call-next]").click()
    expect(doctor.locator("[data-testid=current-token]")).to_have_text("1")
    expect(doctor.locator("[data-testid=current-name]")).to_have_text(FIRST_WALK_IN[0])
    chart = doctor.locator("[data-testid=current-chart]")
    expect(chart).to_have_attribute("href", re.compile(r"^/patients/[0-9a-f-]{36}/chart$"))
    expect(place.locator("[data-testid=position]")).to_have_text("You are next.")
    expect(place.locator("[data-testid=serving-token]")).to_have_text("1")
    expect(place.locator("[data-testid=your-turn]")).to_be_hidden()

    # Finished with the first; the doctor calls the patient of this test.
    doctor.locator("[data-testid=finish]").click()
    expect(doctor.locator("[data-testid=call-next]")).to_be_enabled()
    doctor.locator("[data-testid=call-next]").click()
    expect(doctor.locator("[data-testid=current-token]")).to_have_text("2")

    # The waiting room, never reloaded, says it loudly.
    expect(place.locator("[data-testid=your-turn]")).to_be_visible()
    expect(place.locator("[data-testid=your-turn]")).to_contain_text("It's your turn")
    expect(patient.locator("[data-testid=turn-overlay]")).to_be_visible()
    expect(place.locator("[data-testid=place-status]")).to_have_text("In consultation")
    expect(place.locator("[data-testid=serving-token]")).to_have_text("2")
    no_horizontal_scroll(patient)
    patient.locator("[data-testid=turn-ok]").click()
    expect(patient.locator("[data-testid=turn-overlay]")).to_be_hidden()

    # The desk's list followed along too.
    expect(desk.locator("[data-testid=queue-summary]")).to_contain_text("Now serving: 2")

    # The doctor calls again: the waiting room rings again.
    doctor.locator("[data-testid=recall]").click()
    expect(patient.locator("[data-testid=turn-overlay]")).to_be_visible()

    # The patient does not come in: the doctor marks a no-show. The turn is over, so the
    # overlay goes away by itself, and the waiting room offers a message to the doctor or a
    # new token; within the grace period the place comes back.
    doctor.locator("[data-testid=no-show]").click()
    expect(patient.locator("[data-testid=turn-overlay]")).to_be_hidden()
    expect(place.locator("[data-testid=missed]")).to_be_visible()
    expect(place.locator("[data-testid=missed]")).to_contain_text("Appointment missed")
    expect(place.locator("[data-testid=message-doctor]")).to_be_attached()
    place.locator("[data-testid=requeue]").click()
    expect(place.locator("[data-testid=missed]")).to_be_hidden()
    expect(place.locator("[data-testid=position]")).to_have_text("You are next.")
    expect(doctor.locator("[data-testid=next-patients] [data-testid=queue-row]")).to_have_count(1)

    # Every queue page fits a phone's width, the public board included.
    for page in (desk, doctor):
        page.set_viewport_size(PHONE)
        no_horizontal_scroll(page)
    patient.goto("/board")
    expect(patient.locator("[data-testid=board-serving]")).to_have_text("2")
    no_horizontal_scroll(patient)
    assert errors == []


def test_the_desk_follows_another_desks_walk_in_and_the_doctors_call_without_a_reload(
    three_people: tuple[Page, Page, Page], live_server: LiveServer, receptionist: StaffAccount
) -> None:
    desk, other_desk, doctor = three_people  # the other desk is on a phone
    errors: list[str] = []
    for page in three_people:
        page.on("pageerror", lambda error: errors.append(str(error)))
    for page, email, password in (
        (doctor, live_server.doctor.email, live_server.doctor.password),
        (desk, receptionist.email, receptionist.password),
        (other_desk, receptionist.email, receptionist.password),
    ):
        sign_in_staff(page, email, password)
        page.wait_for_url("**/home")
    doctor.goto("/doctor/queue")
    desk.goto("/desk/queue")
    expect(desk.locator("[data-testid=connection]")).to_have_attribute("data-state", "connected")
    desk.evaluate("window.neverReloaded = true")
    queue = desk.locator("[data-testid=doctor-queue]")
    expect(queue.locator("[data-testid=queue-row]")).to_have_count(0)

    other_desk.goto("/desk/queue")
    register_walk_in(other_desk, live_server.doctor.name, *FIRST_WALK_IN)
    expect(other_desk.locator("[data-testid=receipt]")).to_contain_text("Token 1")
    no_horizontal_scroll(other_desk)

    # The first desk draws the other desk's walk-in, then the doctor's call, as they happen.
    expect(queue.locator("[data-testid=queue-row]")).to_contain_text([FIRST_WALK_IN[0]])
    expect(doctor.locator("[data-testid=call-next]")).to_be_enabled()
    doctor.locator("[data-testid=call-next]").click()
    expect(queue.locator("[data-testid=queue-summary]")).to_have_text("Now serving: 1 · Waiting: 0")
    expect(queue.locator("[data-testid=queue-row]")).to_contain_text(["In consultation"])
    assert desk.evaluate("window.neverReloaded") is True
    assert errors == []
