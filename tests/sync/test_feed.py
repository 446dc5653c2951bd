"""The change feed: scoped by the pages' access rules, exact differences from the cursor."""

from __future__ import annotations

from typing import Any

import httpx

from clinicflow.config import Settings
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.queue.clinic import AFTERNOON
from tests.records.clinic import RecordsClinic
from tests.scheduling.clinic import TUESDAY_9
from tests.sync.clinic import SyncClinic, walk_in


def _ids(changes: list[dict[str, Any]], kind: str) -> set[str]:
    return {c["id"] for c in changes if c["type"] == kind and c["op"] == "upsert"}


def _mentions(changes: list[dict[str, Any]], value: str) -> bool:
    return value in repr(changes)


async def test_the_feed_never_carries_another_patients_data(clinic: SyncClinic) -> None:
    doctor, _ = await clinic.doctor()
    amina, amina_headers = await clinic.patient()
    baraka, baraka_headers = await clinic.patient()
    mine = (await clinic.book(amina_headers, doctor, AFTERNOON[2], reason="Amina's cough")).json()
    theirs = (
        await clinic.book(baraka_headers, doctor, AFTERNOON[3], reason="Baraka's rash")
    ).json()
    desk = await clinic.front_desk()
    for appointment in (mine, theirs):
        checked = await clinic.client.post(
            "/api/queue/check-in", json={"appointment_id": appointment["id"]}, headers=desk
        )
        assert checked.status_code == 201, checked.text

    changes, _cursor = await clinic.pull(amina_headers)
    assert _ids(changes, "appointment") == {mine["id"]}
    (place,) = [c for c in changes if c["type"] == "queue_entry"]
    assert place["data"]["patient_id"] == str(amina.id)
    assert place["data"]["token"] == 1
    assert place["data"]["serving_token"] is None
    assert {c["type"] for c in changes} == {"appointment", "queue_entry", "notification"}
    for change in changes:
        assert not _mentions([change], str(baraka.id)), change
    assert not _mentions(changes, "Baraka's rash")
    assert not _mentions(changes, theirs["id"])

    theirs_changes, _ = await clinic.pull(baraka_headers)
    assert _ids(theirs_changes, "appointment") == {theirs["id"]}
    assert not _mentions(theirs_changes, str(amina.id))

    desk_changes, _ = await clinic.pull(desk)
    assert _ids(desk_changes, "appointment") == {mine["id"], theirs["id"]}
    (queue,) = [c for c in desk_changes if c["type"] == "queue"]
    assert [e["token"] for e in queue["data"]["entries"]] == [1, 2]
    assert queue["data"]["doctor_name"] == doctor.name
    # Nobody's notifications but the desk's own.
    assert not [c for c in desk_changes if c["type"] == "notification"]

    anonymous = await clinic.client.get("/api/sync/changes")
    assert anonymous.status_code == 401
    pushed = await clinic.client.post("/api/sync/push", json={"mutations": []})
    assert pushed.status_code == 401


async def test_a_cursor_answers_exactly_what_changed_and_is_no_one_elses(
    clinic: SyncClinic,
) -> None:
    doctor, _ = await clinic.doctor()
    _patient, headers = await clinic.patient()
    _other, other_headers = await clinic.patient()
    changes, cursor = await clinic.pull(headers)
    assert changes == []
    booked = (await clinic.book(headers, doctor, TUESDAY_9)).json()
    changes, second = await clinic.pull(headers, cursor)
    assert {(c["type"], c["op"]) for c in changes} == {
        ("appointment", "upsert"),
        ("notification", "upsert"),
    }
    (appointment,) = [c for c in changes if c["type"] == "appointment"]
    assert appointment["version"] == 1
    assert appointment["data"]["doctor_name"] == doctor.name
    # Nothing new: nothing answered, the same cursor.
    assert await clinic.pull(headers, second) == ([], second)
    cancelled = await clinic.client.post(
        f"/api/appointments/{booked['id']}/cancel", headers=headers
    )
    assert cancelled.status_code == 200, cancelled.text
    changes, _third = await clinic.pull(headers, second)
    (appointment,) = [c for c in changes if c["type"] == "appointment"]
    assert (appointment["op"], appointment["version"]) == ("upsert", 2)
    assert appointment["data"]["status"] == "cancelled"
    # Another person's cursor, or one never given, is refused like a forgotten one.
    for cursor_id in (second, "0" * 64):
        refused = await clinic.client.get(
            "/api/sync/changes", params={"since": cursor_id}, headers=other_headers
        )
        assert refused.status_code == 410
        assert refused.json()["error"]["code"] == "cursor_expired"


async def test_the_desk_follows_the_queue_and_a_passed_day_is_deleted_from_a_copy(
    clinic: SyncClinic, frozen_clock: FrozenClock
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    (registered,) = await clinic.push(desk, walk_in("w", doctor.id, "+254712000009"))
    assert registered["status"] == "applied"
    changes, cursor = await clinic.pull(desk)
    (queue,) = [c for c in changes if c["type"] == "queue"]
    assert queue["data"]["entries"][0]["patient_name"] == "Walk In"
    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert called.status_code == 200, called.text
    changes, cursor = await clinic.pull(desk, cursor)
    (queue,) = [c for c in changes if c["type"] == "queue"]
    assert queue["data"]["serving_token"] == 1
    assert queue["version"] > 1

    _patient, headers = await clinic.patient()
    booked = (await clinic.book(headers, doctor, TUESDAY_9)).json()
    changes, mine = await clinic.pull(headers)
    assert _ids(changes, "appointment") == {booked["id"]}
    frozen_clock.advance(days=2)
    changes, _ = await clinic.pull(await clinic.renew(headers), mine)
    assert [(c["type"], c["id"], c["op"], c["data"]) for c in changes] == [
        ("appointment", booked["id"], "delete", None)
    ]


async def test_a_patient_keeps_their_own_latest_prescription_and_no_one_elses(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, settings: Settings
) -> None:
    records = RecordsClinic(client, accounts, runtime, settings)
    sync = SyncClinic(client, accounts, runtime)
    doctor = await records.doctor()
    amina = await records.patient()
    baraka = await records.patient()
    desk = await records.staff(Role.receptionist)
    first = await records.prescribe(doctor, (await records.visit(amina, doctor)).id)
    assert first.status_code == 201, first.text
    theirs = await records.prescribe(
        doctor, (await records.visit(baraka, doctor)).id, lifestyle_advice="Baraka's advice"
    )
    assert theirs.status_code == 201, theirs.text

    changes, cursor = await sync.pull(amina.headers)
    (kept,) = [c for c in changes if c["type"] == "prescription"]
    assert kept["id"] == first.json()["id"]
    assert kept["data"]["patient_id"] == str(amina.id)
    assert [m["name"] for m in kept["data"]["medications"]] == ["Amoxicillin", "Paracetamol"]
    assert not _mentions(changes, str(baraka.id))
    assert not _mentions(changes, theirs.json()["id"])
    assert not _mentions(changes, "Baraka's advice")

    baraka_changes, _ = await sync.pull(baraka.headers)
    assert _ids(baraka_changes, "prescription") == {theirs.json()["id"]}
    assert not _mentions(baraka_changes, str(amina.id))
    # Staff keep queues, not anyone's record.
    for staff in (desk, doctor):
        staff_changes, _ = await sync.pull(staff.headers)
        assert not [c for c in staff_changes if c["type"] == "prescription"]

    # A newer prescription takes the old one's place on the device.
    second = await records.prescribe(doctor, (await records.visit(amina, doctor)).id)
    assert second.status_code == 201, second.text
    changes, _ = await sync.pull(amina.headers, cursor)
    moved = {(c["id"], c["op"]) for c in changes if c["type"] == "prescription"}
    assert moved == {(second.json()["id"], "upsert"), (first.json()["id"], "delete")}
