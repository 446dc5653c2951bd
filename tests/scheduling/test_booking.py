"""Availability, holds and appointments through the API: the rules of the scheduling issue."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from tests.factories import bearer, login
from tests.scheduling.clinic import TUESDAY_9, TUESDAY_915, WEEK, Clinic, at

pytestmark = pytest.mark.usefixtures("app")


def z(value: str) -> str:
    return at(value).astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- availability ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weekly": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "weekly.mon"),
        ({"weekly": {"mon": [["12:00", "09:00"]]}}, "weekly.mon"),
        ({"slot_minutes": 4}, "slot_minutes"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"weekly": {"mon": [["9:00", "12:00"]]}}, "weekly"),
        ({"weekly": {"someday": []}}, "weekly"),
        ({"exceptions": [{"date": "2026-03-04", "intervals": [["10:00", "09:00"]]}]}, "exceptions"),
    ],
)
async def test_bad_weeks_are_refused_with_the_field(
    clinic: Clinic, change: dict[str, Any], field: str
) -> None:
    doctor, headers = await clinic.doctor()
    response = await clinic.client.put(
        f"/api/doctors/{doctor.id}/availability", json={**WEEK, **change}, headers=headers
    )
    assert response.status_code == 422, response.text
    assert field in response.text


async def test_only_the_doctor_or_an_admin_edits_a_week(clinic: Clinic) -> None:
    doctor, _ = await clinic.doctor()
    _, other_doctor = await clinic.doctor()
    _, patient = await clinic.patient()
    path = f"/api/doctors/{doctor.id}/availability"
    assert (await clinic.client.put(path, json=WEEK, headers=other_doctor)).status_code == 403
    assert (await clinic.client.put(path, json=WEEK, headers=patient)).status_code == 403
    assert (await clinic.client.put(path, json=WEEK)).status_code == 401
    admin = await clinic.staff(Role.admin)
    assert (await clinic.client.put(path, json=WEEK, headers=admin)).status_code == 200
    shown = (await clinic.client.get(path)).json()
    assert shown["weekly"]["mon"] == [["08:00", "12:00"], ["14:00", "18:00"]]
    assert shown["exceptions"] == [{"date": "2026-03-04", "intervals": []}]


async def test_slot_length_defaults_to_the_doctors_typical_minutes(clinic: Clinic) -> None:
    doctor = await clinic.accounts.make(Role.doctor, profile={"consultation_minutes": 20})
    headers = bearer(await login(clinic.client, doctor))
    week = {key: value for key, value in WEEK.items() if key != "slot_minutes"}
    response = await clinic.client.put(
        f"/api/doctors/{doctor.id}/availability", json=week, headers=headers
    )
    assert response.json()["slot_minutes"] == 20


# --- free slots ------------------------------------------------------------------------------


async def test_free_slots_follow_the_week_in_the_doctors_zone(clinic: Clinic) -> None:
    doctor, _ = await clinic.doctor()
    response = await clinic.client.get(
        f"/api/doctors/{doctor.id}/slots",
        params={"from": "2026-03-03T00:00:00+00:00", "to": "2026-03-05T00:00:00+00:00"},
    )
    body = response.json()
    assert body["timezone"] == "Africa/Nairobi"
    starts = [s["starts_at"] for s in body["slots"]]
    assert len(starts) == 32  # Tuesday's 8 working hours; Wednesday is the day off
    assert at(starts[0]) == at("2026-03-03T05:00:00+00:00")
    assert all(
        at(s["ends_at"]) - at(s["starts_at"]) == timedelta(minutes=15) for s in body["slots"]
    )


async def test_past_slots_are_not_offered(clinic: Clinic) -> None:
    doctor, _ = await clinic.doctor()
    today = await clinic.slots(doctor, "2026-03-02T00:00:00+00:00", "2026-03-03T00:00:00+00:00")
    assert today
    assert all(at(s) >= at("2026-03-02T09:00:00+00:00") for s in today)


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-03-03T00:00:00+00:00", "to": "2026-04-04T00:00:00+00:00"},
        {"from": "2026-03-05T00:00:00+00:00", "to": "2026-03-03T00:00:00+00:00"},
        {"from": "2026-03-03T00:00:00", "to": "2026-03-04T00:00:00+00:00"},
        {"from": "yesterday", "to": "2026-03-04T00:00:00+00:00"},
    ],
)
async def test_bad_slot_ranges_are_422(clinic: Clinic, params: dict[str, str]) -> None:
    doctor, _ = await clinic.doctor()
    response = await clinic.client.get(f"/api/doctors/{doctor.id}/slots", params=params)
    assert response.status_code == 422


# --- holds -----------------------------------------------------------------------------------


async def test_a_held_slot_is_not_offered_and_expires_by_itself(
    clinic: Clinic, frozen_clock: FrozenClock
) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    _, baraka = await clinic.patient()
    hold = await clinic.client.post(
        "/api/holds", json={"doctor_id": str(doctor.id), "starts_at": TUESDAY_9}, headers=amina
    )
    assert hold.status_code == 201, hold.text
    assert at(hold.json()["expires_at"]) == at("2026-03-02T09:05:00+00:00")
    day = ("2026-03-03T00:00:00+00:00", "2026-03-04T00:00:00+00:00")
    assert z(TUESDAY_9) not in [z(s) for s in await clinic.slots(doctor, *day)]

    taken = await clinic.client.post(
        "/api/holds", json={"doctor_id": str(doctor.id), "starts_at": TUESDAY_9}, headers=baraka
    )
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "slot_taken")
    assert (await clinic.book(baraka, doctor, TUESDAY_9)).status_code == 409

    frozen_clock.advance(minutes=5, seconds=1)
    assert z(TUESDAY_9) in [z(s) for s in await clinic.slots(doctor, *day)]
    again = await clinic.client.post(
        "/api/holds", json={"doctor_id": str(doctor.id), "starts_at": TUESDAY_9}, headers=baraka
    )
    assert again.status_code == 201


async def test_one_hold_per_patient_per_doctor_and_release(clinic: Clinic) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    first = await clinic.client.post(
        "/api/holds", json={"doctor_id": str(doctor.id), "starts_at": TUESDAY_9}, headers=amina
    )
    second = await clinic.client.post(
        "/api/holds", json={"doctor_id": str(doctor.id), "starts_at": TUESDAY_915}, headers=amina
    )
    assert second.status_code == 201
    day = ("2026-03-03T00:00:00+00:00", "2026-03-04T00:00:00+00:00")
    offered = [z(s) for s in await clinic.slots(doctor, *day)]
    assert z(TUESDAY_9) in offered
    assert z(TUESDAY_915) not in offered
    gone = await clinic.client.delete(f"/api/holds/{first.json()['id']}", headers=amina)
    assert gone.status_code == 404
    released = await clinic.client.delete(f"/api/holds/{second.json()['id']}", headers=amina)
    assert released.status_code == 204
    assert z(TUESDAY_915) in [z(s) for s in await clinic.slots(doctor, *day)]


async def test_only_the_patient_or_the_desk_releases_a_hold(clinic: Clinic) -> None:
    """A doctor (this slot's own or another) cannot free a time a patient is booking."""
    doctor, doctor_headers = await clinic.doctor()
    _, other_headers = await clinic.doctor()
    _, amina = await clinic.patient()
    _, baraka = await clinic.patient()
    hold = await clinic.client.post(
        "/api/holds", json={"doctor_id": str(doctor.id), "starts_at": TUESDAY_9}, headers=amina
    )
    url = f"/api/holds/{hold.json()['id']}"
    for outsider in (other_headers, doctor_headers, baraka):
        refused = await clinic.client.delete(url, headers=outsider)
        assert refused.status_code == 404, refused.text
    day = ("2026-03-03T00:00:00+00:00", "2026-03-04T00:00:00+00:00")
    assert z(TUESDAY_9) not in [z(s) for s in await clinic.slots(doctor, *day)]
    desk = await clinic.staff(Role.receptionist)
    assert (await clinic.client.delete(url, headers=desk)).status_code == 204
    again = await clinic.client.post(
        "/api/holds", json={"doctor_id": str(doctor.id), "starts_at": TUESDAY_9}, headers=amina
    )
    assert (
        await clinic.client.delete(f"/api/holds/{again.json()['id']}", headers=amina)
    ).status_code == 204


async def test_booking_your_hold_ends_it(clinic: Clinic) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    hold = await clinic.client.post(
        "/api/holds", json={"doctor_id": str(doctor.id), "starts_at": TUESDAY_9}, headers=amina
    )
    booked = await clinic.book(amina, doctor, TUESDAY_9, hold_id=hold.json()["id"])
    assert booked.status_code == 201, booked.text
    assert (
        await clinic.client.delete(f"/api/holds/{hold.json()['id']}", headers=amina)
    ).status_code == 404


# --- booking ---------------------------------------------------------------------------------


async def test_book_then_the_slot_is_taken(clinic: Clinic, session: AsyncSession) -> None:
    doctor, _ = await clinic.doctor()
    amina_user, amina = await clinic.patient()
    _, baraka = await clinic.patient()
    booked = await clinic.book(amina, doctor, TUESDAY_9)
    assert booked.status_code == 201
    body = booked.json()
    assert (body["status"], body["mode"], body["patient_id"]) == (
        "booked",
        "in_person",
        str(amina_user.id),
    )
    assert at(body["ends_at"]) - at(body["starts_at"]) == timedelta(minutes=15)
    second = await clinic.book(baraka, doctor, TUESDAY_9)
    assert (second.status_code, second.json()["error"]["code"]) == (409, "slot_taken")
    actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "appointment.book" in actions


@pytest.mark.parametrize(
    "starts_at",
    [
        "2026-03-03T06:07:00+00:00",  # between slots
        "2026-03-03T10:00:00+00:00",  # lunch (13:00 Nairobi)
        "2026-03-04T06:00:00+00:00",  # the day off
        "2026-03-02T05:00:00+00:00",  # already past
    ],
)
async def test_times_that_are_not_free_slots_are_refused(clinic: Clinic, starts_at: str) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    response = await clinic.book(amina, doctor, starts_at)
    assert (response.status_code, response.json()["error"]["code"]) == (422, "slot_unavailable")


async def test_at_most_three_upcoming_appointments(clinic: Clinic) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    for minute in (0, 15, 30):
        start = (at(TUESDAY_9) + timedelta(minutes=minute)).isoformat()
        assert (await clinic.book(amina, doctor, start)).status_code == 201
    fourth = await clinic.book(amina, doctor, (at(TUESDAY_9) + timedelta(hours=1)).isoformat())
    assert (fourth.status_code, fourth.json()["error"]["code"]) == (409, "appointment_limit")


async def test_staff_book_for_a_patient_and_patients_only_for_themselves(clinic: Clinic) -> None:
    doctor, _ = await clinic.doctor()
    amina_user, amina = await clinic.patient()
    baraka_user, _ = await clinic.patient()
    desk = await clinic.staff()
    for_baraka = await clinic.book(desk, doctor, TUESDAY_9, patient_id=str(baraka_user.id))
    assert for_baraka.status_code == 201
    assert for_baraka.json()["patient_id"] == str(baraka_user.id)
    not_yours = await clinic.book(amina, doctor, TUESDAY_915, patient_id=str(baraka_user.id))
    assert not_yours.status_code == 403
    nobody = await clinic.book(desk, doctor, TUESDAY_915)
    assert nobody.status_code == 422
    unknown = await clinic.book(desk, doctor, TUESDAY_915, patient_id=str(doctor.id))
    assert unknown.status_code == 404
    assert amina_user.id != baraka_user.id


@pytest.mark.parametrize(("minutes_before", "allowed"), [(61, True), (59, False)])
async def test_patients_change_until_an_hour_before(
    clinic: Clinic, frozen_clock: FrozenClock, minutes_before: int, allowed: bool
) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    booked = (await clinic.book(amina, doctor, TUESDAY_9)).json()
    frozen_clock.current = at(TUESDAY_9) - timedelta(minutes=minutes_before)
    amina = await clinic.renew(amina)
    cancel = await clinic.client.post(f"/api/appointments/{booked['id']}/cancel", headers=amina)
    if allowed:
        assert cancel.status_code == 200
        assert cancel.json()["status"] == "cancelled"
    else:
        assert (cancel.status_code, cancel.json()["error"]["code"]) == (409, "too_late_to_change")
        desk = await clinic.staff()
        staff_cancel = await clinic.client.post(
            f"/api/appointments/{booked['id']}/cancel", headers=desk
        )
        assert staff_cancel.status_code == 200


async def test_a_cancelled_slot_can_be_booked_again(clinic: Clinic) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    _, baraka = await clinic.patient()
    booked = (await clinic.book(amina, doctor, TUESDAY_9)).json()
    await clinic.client.post(f"/api/appointments/{booked['id']}/cancel", headers=amina)
    assert (await clinic.book(baraka, doctor, TUESDAY_9)).status_code == 201
    twice = await clinic.client.post(f"/api/appointments/{booked['id']}/cancel", headers=amina)
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "invalid_transition")


async def test_the_audit_rows_carry_the_callers_address(
    clinic: Clinic, session: AsyncSession
) -> None:
    """The verbs take no address: the request binds it to the unit of work, and every audit
    row written in that transaction carries it (`client` calls from 203.0.113.7)."""
    doctor, _ = await clinic.doctor()
    amina_user, amina = await clinic.patient()
    booked = (await clinic.book(amina, doctor, TUESDAY_9)).json()
    moved = await clinic.client.post(
        f"/api/appointments/{booked['id']}/reschedule",
        json={"starts_at": TUESDAY_915},
        headers=amina,
    )
    assert moved.status_code == 200, moved.text
    cancelled = await clinic.client.post(f"/api/appointments/{booked['id']}/cancel", headers=amina)
    assert cancelled.status_code == 200, cancelled.text
    rows = (
        await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.startswith("appointment."))
            .order_by(AuditEntry.seq)
        )
    ).all()
    assert [(r.action, r.resource_id, r.actor_id, r.ip) for r in rows] == [
        ("appointment.book", booked["id"], amina_user.id, "203.0.113.7"),
        ("appointment.reschedule", booked["id"], amina_user.id, "203.0.113.7"),
        ("appointment.cancel", booked["id"], amina_user.id, "203.0.113.7"),
    ]


async def test_reschedule_moves_the_appointment(clinic: Clinic, session: AsyncSession) -> None:
    doctor, _ = await clinic.doctor()
    _, amina = await clinic.patient()
    _, baraka = await clinic.patient()
    booked = (await clinic.book(amina, doctor, TUESDAY_9)).json()
    await clinic.book(baraka, doctor, TUESDAY_915)
    onto_taken = await clinic.client.post(
        f"/api/appointments/{booked['id']}/reschedule",
        json={"starts_at": TUESDAY_915},
        headers=amina,
    )
    assert onto_taken.status_code == 409
    later = (at(TUESDAY_9) + timedelta(hours=1)).isoformat()
    moved = await clinic.client.post(
        f"/api/appointments/{booked['id']}/reschedule", json={"starts_at": later}, headers=amina
    )
    assert moved.status_code == 200
    assert at(moved.json()["starts_at"]) == at(later)
    assert (await clinic.book(baraka, doctor, TUESDAY_9)).status_code == 201
    actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "appointment.reschedule" in actions


# --- reading ---------------------------------------------------------------------------------


async def test_appointments_are_private(clinic: Clinic) -> None:
    doctor, doctor_headers = await clinic.doctor()
    _, amina = await clinic.patient()
    _, baraka = await clinic.patient()
    booked = (await clinic.book(amina, doctor, TUESDAY_9)).json()
    path = f"/api/appointments/{booked['id']}"
    assert (await clinic.client.get(path, headers=amina)).status_code == 200
    assert (await clinic.client.get(path, headers=doctor_headers)).status_code == 200
    assert (await clinic.client.get(path, headers=await clinic.staff())).status_code == 200
    hidden = await clinic.client.get(path, headers=baraka)
    assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "not_found")
    _, other_doctor = await clinic.doctor()
    assert (await clinic.client.get(path, headers=other_doctor)).status_code == 404
    assert (await clinic.client.post(f"{path}/cancel", headers=baraka)).status_code == 404
    assert (await clinic.client.get("/api/appointments", headers=baraka)).json()["items"] == []


async def test_lists_page_with_a_cursor_and_filter(clinic: Clinic) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.staff()
    for n in range(5):
        patient, _ = await clinic.patient()
        start = (at(TUESDAY_9) + timedelta(minutes=15 * n)).isoformat()
        assert (
            await clinic.book(desk, doctor, start, patient_id=str(patient.id))
        ).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (
            await clinic.client.get("/api/appointments", params=params, headers=doctor_headers)
        ).json()
        seen += [item["starts_at"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5
    assert seen == sorted(seen, key=at)
    cancelled = await clinic.client.get(
        "/api/appointments", params={"status": "cancelled"}, headers=doctor_headers
    )
    assert cancelled.json()["items"] == []
    broken = await clinic.client.get("/api/appointments", params={"cursor": "!!"}, headers=desk)
    assert broken.status_code == 422


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00+00:01",  # before year 1 in UTC: overflowed into a 500
        "9999-12-31T23:59:00-00:01",  # after year 9999 in UTC
        "1899-12-31T23:00:00+00:00",
        "3000-01-01T00:00:00+00:00",
        "2026-03-03T09:00:00",  # no offset: which 9 o'clock?
    ],
)
async def test_times_outside_the_calendar_or_without_an_offset_are_refused(
    clinic: Clinic, when: str
) -> None:
    doctor, _ = await clinic.doctor()
    _, patient = await clinic.patient()
    desk = await clinic.staff()
    refused = [
        await clinic.client.get("/api/appointments", params={"from": when}, headers=desk),
        await clinic.client.get("/api/appointments", params={"to": when}, headers=desk),
        await clinic.client.get(
            f"/api/doctors/{doctor.id}/slots", params={"from": when, "to": when}
        ),
        await clinic.client.post(
            "/api/holds", json={"doctor_id": str(doctor.id), "starts_at": when}, headers=patient
        ),
        await clinic.book(patient, doctor, when),
    ]
    assert [(r.status_code, r.json()["error"]["code"]) for r in refused] == [
        (422, "validation_error")
    ] * len(refused)


async def test_the_doctor_directory(clinic: Clinic) -> None:
    await clinic.accounts.make(Role.doctor, name="Dr. Neema", profile={"specialty": "Paediatrics"})
    await clinic.accounts.make(Role.doctor, name="Dr. Joseph", profile={"specialty": "Dermatology"})
    found = (await clinic.client.get("/api/doctors", params={"q": "paed"})).json()
    assert [d["name"] for d in found] == ["Dr. Neema"]
    one = await clinic.client.get(f"/api/doctors/{found[0]['id']}")
    assert one.json()["specialty"] == "Paediatrics"
    patient, _ = await clinic.patient()
    assert (await clinic.client.get(f"/api/doctors/{patient.id}")).status_code == 404
