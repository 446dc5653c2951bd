"""`GET|PUT /api/admin/clinic`: the environment's values until the first save, then stored
versions (one per change, each audited with what changed), validation naming the field,
and the admin alone."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.clinic.models import ClinicSettings
from clinicflow.clinic.schemas import KNOWN_CHANNELS, ClinicChanges
from clinicflow.core.audit import AuditEntry
from clinicflow.identity.schemas import Role
from tests.queue.clinic import QueueClinic

URL = "/api/admin/clinic"
FIELDS = {
    "name",
    "address",
    "phone",
    "timezone",
    "public_url",
    "phone_region",
    "default_language",
    "logo_url",
    "notification_channels",
    "reminder_minutes",
    "hold_minutes",
    "cancellation_window_minutes",
    "no_show_grace_minutes",
    "version",
}


async def audit_rows(session: AsyncSession) -> list[AuditEntry]:
    return list(
        await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "clinic.settings_changed")
            .order_by(AuditEntry.resource_id)
        )
    )


async def test_the_environment_is_the_clinic_until_the_first_save(clinic: QueueClinic) -> None:
    admin = await clinic.staff(Role.admin)
    body = (await clinic.client.get(URL, headers=admin)).json()
    assert set(body) == FIELDS
    assert body["version"] == 0
    assert body["timezone"] == "Africa/Nairobi"
    # No public address configured: links follow the request (`clinic.links`).
    assert body["public_url"] is None
    assert body["phone_region"] == "KE"
    assert body["hold_minutes"] == 5
    assert body["notification_channels"] == list(KNOWN_CHANNELS)


async def test_each_change_is_a_new_version_with_an_audit_row_naming_what_changed(
    clinic: QueueClinic, session: AsyncSession
) -> None:
    admin = await clinic.staff(Role.admin)
    first = await clinic.client.put(
        URL, json={"name": "Afya Clinic", "timezone": "Africa/Dar_es_Salaam"}, headers=admin
    )
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1
    assert first.json()["name"] == "Afya Clinic"
    # A partial body keeps the rest; the whole object back is accepted too.
    whole = {**first.json(), "hold_minutes": 7}
    del whole["version"], whole["logo_url"]
    second = await clinic.client.put(URL, json=whole, headers=admin)
    assert second.status_code == 200, second.text
    assert second.json()["version"] == 2
    assert second.json()["timezone"] == "Africa/Dar_es_Salaam"
    assert second.json()["hold_minutes"] == 7
    # Saving what is already stored is no change: no version, no audit row.
    again = await clinic.client.put(URL, json={"hold_minutes": 7}, headers=admin)
    assert again.json()["version"] == 2

    rows = await audit_rows(session)
    assert [row.resource_id for row in rows] == ["1", "2"]
    assert rows[0].details["changed"] == {
        "name": {"from": "clinicflow", "to": "Afya Clinic"},
        "timezone": {"from": "Africa/Nairobi", "to": "Africa/Dar_es_Salaam"},
    }
    assert rows[1].details["changed"] == {"hold_minutes": {"from": 5, "to": 7}}
    versions = list(await session.scalars(select(ClinicSettings.version)))
    assert sorted(versions) == [1, 2]  # the old version is kept


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timezone", "Africa/Nairobbi"),
        ("timezone", "../../etc/passwd"),
        ("public_url", "ftp://clinic.example.com"),
        ("public_url", "javascript:alert(1)"),
        ("public_url", "https://"),
        ("hold_minutes", -1),
        ("hold_minutes", 0),
        ("cancellation_window_minutes", -5),
        ("no_show_grace_minutes", -1),
        ("reminder_minutes", [60, 0]),
        ("phone_region", "XX"),
        ("default_language", "fr"),
        ("notification_channels", ["fax"]),
        ("name", ""),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    clinic: QueueClinic, session: AsyncSession, field: str, value: Any
) -> None:
    admin = await clinic.staff(Role.admin)
    response = await clinic.client.put(URL, json={field: value}, headers=admin)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert [e["loc"][1] for e in error["details"]["errors"]] == [field]
    assert (await clinic.client.get(URL, headers=admin)).json()["version"] == 0
    assert await audit_rows(session) == []


@pytest.mark.parametrize("role", [Role.doctor, Role.receptionist])
async def test_only_an_admin_reads_or_changes_the_settings(clinic: QueueClinic, role: Role) -> None:
    headers = await clinic.staff(role)
    assert (await clinic.client.get(URL, headers=headers)).status_code == 403
    changed = await clinic.client.put(URL, json={"name": "Mine now"}, headers=headers)
    assert changed.status_code == 403
    _patient, patient_headers = await clinic.patient()
    assert (await clinic.client.get(URL, headers=patient_headers)).status_code == 403
    assert (await clinic.client.get(URL)).status_code == 401


async def test_in_app_is_always_on(clinic: QueueClinic) -> None:
    admin = await clinic.staff(Role.admin)
    body = (
        await clinic.client.put(URL, json={"notification_channels": ["sms"]}, headers=admin)
    ).json()
    assert body["notification_channels"] == ["in_app", "sms"]


async def test_the_no_show_grace_has_one_source_the_clinic(clinic: QueueClinic) -> None:
    admin = await clinic.staff(Role.admin)
    await clinic.client.put(URL, json={"no_show_grace_minutes": 3}, headers=admin)
    rules = (await clinic.client.get("/api/admin/queue-rules", headers=admin)).json()
    assert rules["no_show_grace_minutes"] == 3
    # Changing the weights alone leaves the grace as the clinic has it...
    await clinic.client.put(
        "/api/admin/queue-rules", json={"severity_weights": {"urgent": 5}}, headers=admin
    )
    assert (await clinic.client.get(URL, headers=admin)).json()["no_show_grace_minutes"] == 3
    # ...and a grace set through the queue rules is the clinic's.
    await clinic.client.put(
        "/api/admin/queue-rules", json={"no_show_grace_minutes": 12}, headers=admin
    )
    assert (await clinic.client.get(URL, headers=admin)).json()["no_show_grace_minutes"] == 12
    rules = (await clinic.client.get("/api/admin/queue-rules", headers=admin)).json()
    assert rules["no_show_grace_minutes"] == 12


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


async def test_a_logo_is_stored_served_and_checked_by_its_bytes(clinic: QueueClinic) -> None:
    admin = await clinic.staff(Role.admin)
    refused = await clinic.client.put(
        f"{URL}/logo",
        files={"file": ("logo.png", b"<svg onload=alert(1)>", "image/png")},
        headers=admin,
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["errors"][0]["loc"] == ["body", "logo"]
    stored = await clinic.client.put(
        f"{URL}/logo", files={"file": ("logo.png", PNG, "image/png")}, headers=admin
    )
    assert stored.status_code == 200, stored.text
    logo_url = stored.json()["logo_url"]
    served = await clinic.client.get(logo_url)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.content == PNG
    assert (await clinic.client.get("/clinic/logo/logo-0000.png")).status_code == 404
    assert (await clinic.client.get("/clinic/logo/..%2F..%2Fclinicflow.db")).status_code == 404


@given(st.text(max_size=40))
def test_a_public_url_is_http_or_https_with_a_host(text: str) -> None:
    for candidate in (text, f"https://{text}", f"gopher://{text}"):
        try:
            url = ClinicChanges(public_url=candidate).public_url
        except ValidationError:
            continue
        assert url is not None
        if not candidate.strip():
            assert url == ""  # empty: none configured, links follow the request
            continue
        assert url.startswith(("http://", "https://"))
        assert url.split("://", 1)[1]


@given(st.lists(st.sampled_from([*KNOWN_CHANNELS, "fax", "pigeon"]), max_size=6))
def test_the_channels_are_known_ordered_and_include_in_app(chosen: list[str]) -> None:
    try:
        channels = ClinicChanges(notification_channels=chosen).notification_channels
    except ValidationError:
        assert set(chosen) - set(KNOWN_CHANNELS)
        return
    assert channels is not None
    assert "in_app" in channels
    assert set(channels) == {"in_app", *chosen}
    assert channels == [c for c in KNOWN_CHANNELS if c in channels]


async def test_null_keeps_the_value(clinic: QueueClinic) -> None:
    admin = await clinic.staff(Role.admin)
    fields = ["timezone", "public_url", "phone_region", "notification_channels", "name"]
    response = await clinic.client.put(URL, json=dict.fromkeys(fields), headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 0
    assert response.json()["timezone"] == "Africa/Nairobi"
