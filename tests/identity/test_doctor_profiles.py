"""Doctors' profiles: who changes which field, the specialty list in two languages (and
shown to patients in theirs), the photo, and the audit rows."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core.audit import AuditEntry
from clinicflow.identity.schemas import Role
from tests.factories import (
    Accounts,
    bearer,
    csrf_from,
    login,
    sign_in_page_patient,
    sign_in_page_staff,
)

pytestmark = pytest.mark.usefixtures("app")

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
SW = {"Accept-Language": "sw"}


@pytest.fixture
async def admin(client: httpx.AsyncClient, accounts: Accounts) -> dict[str, str]:
    return bearer(await login(client, await accounts.make(Role.admin)))


async def add_specialty(
    client: httpx.AsyncClient, admin: dict[str, str], en: str = "Paediatrics", sw: str = "Watoto"
) -> dict[str, Any]:
    response = await client.post(
        "/api/admin/specialties", json={"name_en": en, "name_sw": sw}, headers=admin
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_specialty_is_named_in_the_readers_language(
    client: httpx.AsyncClient, accounts: Accounts, admin: dict[str, str]
) -> None:
    doctor = await accounts.make(Role.doctor)
    specialty = await add_specialty(client, admin)
    response = await client.patch(
        f"/api/doctors/{doctor.id}/profile",
        json={"specialty_id": specialty["id"], "consultation_types": ["video", "in_person"]},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    assert response.json()["doctor"]["consultation_types"] == ["video", "in_person"]
    english = await client.get(f"/api/doctors/{doctor.id}")
    assert english.json()["specialty"] == "Paediatrics"
    swahili = await client.get(f"/api/doctors/{doctor.id}", headers=SW)
    assert swahili.json()["specialty"] == "Watoto"
    listed = await client.get("/api/specialties", headers=SW)
    assert [s["name"] for s in listed.json()] == ["Watoto"]


async def test_a_patient_sees_the_swahili_name_on_the_booking_page(
    client: httpx.AsyncClient, accounts: Accounts, admin: dict[str, str], runtime: Any
) -> None:
    doctor = await accounts.make(Role.doctor, name="Dr. Baraka")
    specialty = await add_specialty(client, admin, "Cardiology", "Magonjwa ya moyo")
    await client.patch(
        f"/api/doctors/{doctor.id}/profile", json={"specialty_id": specialty["id"]}, headers=admin
    )
    patient = await accounts.make(Role.patient)
    await sign_in_page_patient(client, runtime, patient)
    client.cookies.set("cf_lang", "sw")
    page = await client.get("/book")
    assert "Magonjwa ya moyo" in page.text
    found = await client.get("/api/doctors", params={"q": "moyo"})
    assert [d["name"] for d in found.json()] == ["Dr. Baraka"]


async def test_a_doctor_changes_only_their_own_bio_languages_and_photo(
    client: httpx.AsyncClient, accounts: Accounts, admin: dict[str, str]
) -> None:
    doctor = await accounts.make(Role.doctor)
    other = await accounts.make(Role.doctor)
    own = bearer(await login(client, doctor))
    mine = await client.patch(
        f"/api/doctors/{doctor.id}/profile",
        json={"bio": "Children first.", "languages": ["English", " Kiswahili "]},
        headers=own,
    )
    assert mine.status_code == 200, mine.text
    assert mine.json()["doctor"]["languages"] == ["English", "Kiswahili"]
    refused = await client.patch(
        f"/api/doctors/{doctor.id}/profile", json={"consultation_minutes": 30}, headers=own
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["details"]["fields"] == ["consultation_minutes"]
    theirs = await client.patch(
        f"/api/doctors/{other.id}/profile", json={"bio": "Not mine."}, headers=own
    )
    assert theirs.status_code == 404
    receptionist = bearer(await login(client, await accounts.make(Role.receptionist)))
    desk = await client.patch(
        f"/api/doctors/{doctor.id}/profile", json={"bio": "x"}, headers=receptionist
    )
    assert desk.status_code == 404
    assert (
        await client.put(f"/api/doctors/{other.id}/photo", content=PNG, headers=own)
    ).status_code == 404


async def test_bad_profile_input_is_refused_with_the_field(
    client: httpx.AsyncClient, accounts: Accounts, admin: dict[str, str]
) -> None:
    doctor = await accounts.make(Role.doctor)
    specialty = await add_specialty(client, admin)
    retire = await client.patch(
        f"/api/admin/specialties/{specialty['id']}", json={"retired": True}, headers=admin
    )
    assert retire.json()["retired"] is True
    for body, field in (
        ({"specialty_id": specialty["id"]}, "specialty_id"),
        ({"consultation_minutes": 2}, "consultation_minutes"),
        ({"consultation_types": ["telepathy"]}, "consultation_types"),
        ({"languages": ["x"] * 9}, "languages"),
    ):
        response = await client.patch(f"/api/doctors/{doctor.id}/profile", json=body, headers=admin)
        assert response.status_code == 422, body
        assert field in response.text
    assert (await client.get("/api/specialties")).json() == []


async def test_renaming_a_specialty_follows_its_doctors(
    client: httpx.AsyncClient, accounts: Accounts, admin: dict[str, str], session: AsyncSession
) -> None:
    doctor = await accounts.make(Role.doctor)
    specialty = await add_specialty(client, admin)
    await client.patch(
        f"/api/doctors/{doctor.id}/profile", json={"specialty_id": specialty["id"]}, headers=admin
    )
    renamed = await client.patch(
        f"/api/admin/specialties/{specialty['id']}",
        json={"name_en": "Child health", "name_sw": "Afya ya watoto"},
        headers=admin,
    )
    assert renamed.status_code == 200
    assert (await client.get(f"/api/doctors/{doctor.id}")).json()["specialty"] == "Child health"
    duplicate = await client.post(
        "/api/admin/specialties",
        json={"name_en": "child HEALTH", "name_sw": "x"},
        headers=admin,
    )
    assert duplicate.status_code == 422
    # A name outside ASCII twice: refused on the field, not a 500 from the unique index
    # (SQLite's lower() folds ASCII only; found by the API fuzzer).
    for expected in (201, 422):
        accented = await client.post(
            "/api/admin/specialties", json={"name_en": "Úpasuaji", "name_sw": "x"}, headers=admin
        )
        assert accented.status_code == expected, accented.text
    actions = list(
        await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.like("specialty.%") | AuditEntry.action.like("doctor_%"))
            .order_by(AuditEntry.seq)
        )
    )
    assert actions == [
        "specialty.create",
        "doctor_profile.update",
        "specialty.rename",
        "specialty.create",
    ]
    doctor_only = bearer(await login(client, doctor))
    assert (
        await client.post(
            "/api/admin/specialties", json={"name_en": "A", "name_sw": "B"}, headers=doctor_only
        )
    ).status_code == 403


async def test_a_photo_is_stored_shown_and_replaced(
    client: httpx.AsyncClient, accounts: Accounts, admin: dict[str, str], settings: Settings
) -> None:
    doctor = await accounts.make(Role.doctor)
    own = bearer(await login(client, doctor))
    first = await client.put(f"/api/doctors/{doctor.id}/photo", content=PNG, headers=own)
    assert first.status_code == 200, first.text
    shown = await client.get(f"/doctors/{doctor.id}/photo")
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "image/png"
    assert shown.content == PNG
    second = await client.put(f"/api/doctors/{doctor.id}/photo", content=JPEG, headers=admin)
    assert second.status_code == 200
    folder: Path = settings.var_dir / "photos"
    kept = await asyncio.to_thread(lambda: [p.suffix for p in folder.iterdir()])
    assert kept == [".jpg"]  # the old file went once the change committed
    text = await client.put(f"/api/doctors/{doctor.id}/photo", content=b"hello", headers=own)
    assert text.status_code == 415
    large = await client.put(
        f"/api/doctors/{doctor.id}/photo", content=PNG + b"\x00" * 600_000, headers=own
    )
    assert large.status_code == 413
    assert (await client.get(f"/doctors/{doctor.id}/photo")).content[:3] == JPEG[:3]


async def test_the_profile_page_saves_what_the_viewer_may_change(
    client: httpx.AsyncClient, accounts: Accounts, session: AsyncSession
) -> None:
    doctor = await accounts.make(Role.doctor)
    await sign_in_page_staff(client, doctor)
    page = await client.get(f"/doctors/{doctor.id}/profile")
    assert page.status_code == 200
    assert 'name="registration_number"' not in page.text  # the admin's field
    saved = await client.post(
        f"/doctors/{doctor.id}/profile",
        data={
            "languages": "English, Kiswahili",
            "bio": "Hello",
            "registration_number": "HACK",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert saved.status_code == 303, saved.text
    row = await session.scalar(
        select(AuditEntry).where(AuditEntry.action == "doctor_profile.update")
    )
    assert row is not None
    assert row.details == {"fields": ["bio", "languages"]}
    other = await accounts.make(Role.doctor)
    assert (await client.get(f"/doctors/{other.id}/profile")).status_code == 404


async def test_the_admin_keeps_the_specialty_list_on_its_page(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    await sign_in_page_staff(client, await accounts.make(Role.admin))
    page = await client.get("/admin/specialties")
    token = csrf_from(page.text)
    missing = await client.post(
        "/admin/specialties", data={"name_en": "Dermatology", "csrf_token": token}
    )
    assert missing.status_code == 422
    added = await client.post(
        "/admin/specialties",
        data={"name_en": "Dermatology", "name_sw": "Magonjwa ya ngozi", "csrf_token": token},
    )
    assert added.status_code == 303
    listed = (await client.get("/api/specialties")).json()
    assert [s["name_sw"] for s in listed] == ["Magonjwa ya ngozi"]
    retired = await client.post(
        f"/admin/specialties/{listed[0]['id']}", data={"retired": "1", "csrf_token": token}
    )
    assert retired.status_code == 303
    assert (await client.get("/api/specialties")).json() == []
    assert "Magonjwa ya ngozi" in (await client.get("/admin/specialties")).text
