"""The desk captures the patient's profile at registration (walk-in by API and by page,
the desk's booking of a new patient), corrects it on the profile page, and the clinical
text the queue and the booking store is ciphertext in the database file."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.factories import Accounts, csrf_from, sign_in_page_staff
from tests.queue.clinic import AFTERNOON, QueueClinic

pytestmark = pytest.mark.usefixtures("app")


async def _profile(clinic: QueueClinic, desk: dict[str, str], patient_id: str) -> dict[str, Any]:
    response = await clinic.client.get(f"/api/patients/{patient_id}/profile", headers=desk)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_walk_in_registered_by_api_carries_their_profile(
    clinic: QueueClinic, session: AsyncSession
) -> None:
    doctor, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    made = await clinic.walk_in(
        desk,
        doctor,
        "+254730000001",
        profile={"estimated_age": 40, "sex": "male", "next_of_kin_name": "Mama Juma"},
    )
    assert made.status_code == 201, made.text
    profile = await _profile(clinic, desk, made.json()["patient_id"])
    assert (profile["age_label"], profile["sex"], profile["next_of_kin_name"]) == (
        "~40",
        "male",
        "Mama Juma",
    )
    born = await clinic.walk_in(
        desk, doctor, "+254730000002", profile={"date_of_birth": "1996-01-20", "sex": "female"}
    )
    assert (await _profile(clinic, desk, born.json()["patient_id"]))["age_label"] == "30"

    # Without a profile the walk-in works as before, and its sex is not recorded.
    plain = await clinic.walk_in(desk, doctor, "+254730000003")
    assert (await _profile(clinic, desk, plain.json()["patient_id"]))["sex"] == "unknown"
    rows = await session.scalars(
        select(AuditEntry.details).where(AuditEntry.action == "patient_profile.update")
    )
    assert [r["version"] for r in rows] == [1, 1]


async def test_a_walk_in_with_a_bad_profile_is_refused_and_nobody_joins(
    clinic: QueueClinic,
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    refused = await clinic.walk_in(
        desk,
        doctor,
        "+254730000009",
        profile={"date_of_birth": "1990-01-01", "estimated_age": 30},
    )
    assert refused.status_code == 422
    assert (await clinic.queue(doctor, doctor_headers))["entries"] == []
    future = await clinic.walk_in(
        desk, doctor, "+254730000009", profile={"date_of_birth": "2030-01-01"}
    )
    assert future.status_code == 422
    assert (await clinic.queue(doctor, doctor_headers))["entries"] == []


async def _desk_page(client: httpx.AsyncClient, accounts: Accounts) -> None:
    await sign_in_page_staff(client, await accounts.make(Role.receptionist))


async def test_the_walk_in_form_records_age_and_sex_and_keeps_what_was_typed(
    clinic: QueueClinic, client: httpx.AsyncClient, accounts: Accounts
) -> None:
    doctor, _ = await clinic.doctor()
    await _desk_page(client, accounts)
    page = await client.get("/desk/queue")
    for field in ("date_of_birth", "estimated_age", "sex", "national_id", "next_of_kin_phone"):
        assert f'name="{field}"' in page.text
    form = {
        "csrf_token": csrf_from(page.text),
        "doctor_id": str(doctor.id),
        "phone": "+254730000011",
        "name": "Neema Odhiambo",
        "severity": "routine",
        "date_of_birth": "1988-07-01",
        "estimated_age": "",
        "sex": "female",
        "national_id": "30111222",
        "insurance_number": "",
        "next_of_kin_name": "Otieno",
        "next_of_kin_phone": "0711",  # too short to be a number: refused
    }
    refused = await client.post("/desk/queue/walk-in", data=form)
    assert refused.status_code == 422
    assert 'data-testid="form-error"' in refused.text
    for typed in ("Neema Odhiambo", "1988-07-01", "30111222", "Otieno", 'value="0711"'):
        assert typed in refused.text
    assert 'value="female" selected' in refused.text

    made = await client.post(
        "/desk/queue/walk-in", data={**form, "next_of_kin_phone": "+254 711 000 333"}
    )
    assert made.status_code == 303, made.text
    receipt = await client.get(made.headers["location"])
    link = receipt.text.split('data-testid="receipt-profile"')[0].rsplit('href="', 1)[1]
    patient_path = link.split('"')[0]
    profile_page = await client.get(patient_path)
    assert profile_page.status_code == 200
    assert "Neema Odhiambo" in profile_page.text
    assert 'data-testid="profile-age">37<' in profile_page.text
    assert "0711 000333" in profile_page.text  # shown in national format


async def test_the_desk_books_for_a_new_patient_with_their_profile(
    clinic: QueueClinic, client: httpx.AsyncClient, accounts: Accounts, session: AsyncSession
) -> None:
    await _desk_page(client, accounts)
    page = await client.get("/desk/book", params={"q": "nobody"})
    assert 'data-testid="new-patient-form"' in page.text
    form = {
        "csrf_token": csrf_from(page.text),
        "phone": "+254730000021",
        "name": "",
        "estimated_age": "62",
        "sex": "male",
    }
    refused = await client.post("/desk/book/patient", data=form)
    assert refused.status_code == 422
    assert 'value="62"' in refused.text
    assert 'value="0730 000021"' in refused.text

    made = await client.post("/desk/book/patient", data={**form, "name": "Mzee Kariuki"})
    assert made.status_code == 303
    assert made.headers["location"].startswith("/desk/book?patient=")
    chosen = await client.get(made.headers["location"])
    assert "Mzee Kariuki" in chosen.text
    patient_id = made.headers["location"].split("=", 1)[1]
    assert f'href="/patients/{patient_id}/profile"' in chosen.text
    desk = await clinic.front_desk()
    assert (await _profile(clinic, desk, patient_id))["age_label"] == "~62"


async def test_the_profile_page_corrects_and_lists_the_versions(
    clinic: QueueClinic, client: httpx.AsyncClient, accounts: Accounts
) -> None:
    doctor, _ = await clinic.doctor()
    desk = await clinic.front_desk()
    made = await clinic.walk_in(
        desk, doctor, "+254730000031", profile={"estimated_age": 30, "national_id": "111"}
    )
    patient_id = made.json()["patient_id"]
    await _desk_page(client, accounts)
    page = await client.get(f"/patients/{patient_id}/profile")
    assert 'value="30"' in page.text
    form = {
        "csrf_token": csrf_from(page.text),
        "date_of_birth": "",
        "estimated_age": "30",
        "sex": "",
        "national_id": "",  # blank clears
        "insurance_number": "INS-1",
        "next_of_kin_name": "",
        "next_of_kin_phone": "",
    }
    saved = await client.post(f"/patients/{patient_id}/profile", data=form)
    assert saved.status_code == 303
    profile = await _profile(clinic, desk, patient_id)
    assert (profile["national_id"], profile["insurance_number"], profile["age_label"]) == (
        None,
        "INS-1",
        "~30",
    )
    versions = await client.get(f"/api/patients/{patient_id}/profile/history", headers=desk)
    assert [v["fields"] for v in versions.json()] == [
        ["insurance_number", "national_id"],
        ["estimated_age", "national_id"],
    ]
    listed = await client.get(f"/patients/{patient_id}/profile")
    assert listed.text.count("<li>Version") == 2

    both = await client.post(
        f"/patients/{patient_id}/profile", data={**form, "date_of_birth": "2031-01-01"}
    )
    assert both.status_code == 422
    assert 'value="2031-01-01"' in both.text


async def test_the_profile_page_is_read_only_for_their_doctor_and_hidden_from_others(
    clinic: QueueClinic, client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    doctor, _ = await clinic.doctor()
    patient, headers = await clinic.patient()
    booked = await clinic.book(headers, doctor, AFTERNOON[0])
    assert booked.status_code == 201
    other_doctor = await accounts.make(Role.doctor)
    await sign_in_page_staff(client, other_doctor)
    assert (await client.get(f"/patients/{patient.id}/profile")).status_code == 404
    await client.post("/logout", data={"csrf_token": client.cookies.get("cf_csrf") or ""})
    client.cookies.clear()
    await sign_in_page_staff(client, doctor)
    page = await client.get(f"/patients/{patient.id}/profile")
    assert page.status_code == 200
    assert 'data-testid="profile-facts"' in page.text
    assert 'data-testid="profile-form"' not in page.text


def file_bytes(path: Path) -> bytes:
    """The database file and its write-ahead log, read by another process (see
    tests/records/test_encryption.py for why not this one)."""
    files = [str(p) for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    return subprocess.run(["cat", *files], capture_output=True, check=True, timeout=30).stdout


async def test_reasons_identity_numbers_and_next_of_kin_are_not_plain_text_at_rest(
    clinic: QueueClinic,
    frozen_clock: FrozenClock,
    runtime: Runtime,
    session: AsyncSession,
    database_url: str,
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    _patient, headers, entry = await clinic.booked_and_checked_in(
        desk, doctor, AFTERNOON[0], reason="cough for 3 days"
    )
    walked = await clinic.walk_in(
        desk,
        doctor,
        "+254730000041",
        profile={
            "national_id": "NID-77553311",
            "insurance_number": "INS-44002299",
            "next_of_kin_name": "Wanjiru Kamau",
            "next_of_kin_phone": "+254711987654",
        },
    )
    assert walked.status_code == 201
    assert (await clinic.act(doctor_headers, f"entries/{entry['id']}/no-show")).status_code == 200
    frozen_clock.advance(minutes=11)
    from clinicflow.queue import service as queues

    async with runtime.transaction() as write:
        await queues.expire_skipped(session=write)
    requeued = await clinic.act(
        await clinic.renew(headers), f"entries/{entry['id']}/requeue", {"reason": "bus broke down"}
    )
    assert requeued.status_code == 201, requeued.text

    stored = [
        row[0]
        for query in (
            "SELECT reason FROM appointments",
            "SELECT reason FROM queue_reassignments",
            "SELECT national_id FROM patient_profiles WHERE national_id IS NOT NULL",
            "SELECT next_of_kin_name FROM patient_profiles WHERE next_of_kin_name IS NOT NULL",
        )
        for row in await session.execute(text(query))
    ]
    assert len(stored) == 4
    assert all(value.startswith("gAAAA") for value in stored)
    # ... and read back through the product in the clear.
    history = await clinic.client.get(
        f"/api/queue/entries/{requeued.json()['id']}/history", headers=desk
    )
    assert [h["reason"] for h in history.json()] == ["bus broke down"]

    if database_url.startswith("sqlite"):
        raw = file_bytes(Path(database_url.split("///", 1)[1]))
        assert b"+254730000041" in raw  # the file is the right one (phones are not secret)
        for secret in (
            b"cough for 3 days",
            b"bus broke down",
            b"NID-77553311",
            b"INS-44002299",
            b"Wanjiru Kamau",
            b"+254711987654",
        ):
            assert secret not in raw, secret
