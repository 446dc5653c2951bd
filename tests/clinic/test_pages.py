"""The settings page: the form keeps what was typed and shows each problem beside its field;
the queue's section previews today's waiting patients under the weights being typed,
saving nothing until asked."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.queue.models import QueueRules
from tests.factories import csrf_from, sign_in_page_staff
from tests.queue.clinic import QueueClinic

FORM = {
    "name": "Afya Clinic",
    "address": "Moi Avenue 12",
    "phone": "+254 20 123 4567",
    "timezone": "Africa/Nairobi",
    "public_url": "https://afya.example.com",
    "phone_region": "KE",
    "default_language": "sw",
    "notification_channels": ["sms", "email"],
    "reminder_minutes": "1440, 60",
    "hold_minutes": "5",
    "cancellation_window_minutes": "60",
    "no_show_grace_minutes": "10",
}
WEIGHTS = {
    "severity.urgent": "0",
    "severity.routine": "0",
    "patient_type.child": "0",
    "patient_type.elderly": "0",
    "patient_type.pregnant": "0",
    "patient_type.disabled": "0",
    "late_appointment_bonus": "0",
    "aging_weight_per_minute": "0",
    "check_in_window_minutes": "60",
}


async def signed_in_admin(clinic: QueueClinic) -> str:
    admin = await clinic.accounts.make(Role.admin)
    await sign_in_page_staff(clinic.client, admin)
    page = await clinic.client.get("/admin/clinic")
    assert page.status_code == 200, page.text
    return csrf_from(page.text)


async def test_a_refused_save_keeps_what_was_typed_and_names_each_field(
    clinic: QueueClinic,
) -> None:
    csrf = await signed_in_admin(clinic)
    typed: dict[str, Any] = {
        **FORM,
        "timezone": "Africa/Nairobbi",
        "public_url": "ftp://afya.example.com",
        "hold_minutes": "-1",
        "csrf_token": csrf,
    }
    refused = await clinic.client.post("/admin/clinic", data=typed)
    assert refused.status_code == 422
    page = refused.text
    for field in ("timezone", "public_url", "hold_minutes"):
        assert f'data-testid="field-error-{field}"' in page
    assert 'data-testid="field-error-name"' not in page
    assert 'value="Afya Clinic"' in page  # nothing typed is lost
    assert 'value="ftp://afya.example.com"' in page
    assert 'value="-1"' in page
    assert 'value="Africa/Nairobbi" selected' in page
    got = await clinic.client.get("/api/admin/clinic", headers=await clinic.staff(Role.admin))
    assert got.json()["version"] == 0


async def test_a_good_save_is_a_new_version(clinic: QueueClinic) -> None:
    csrf = await signed_in_admin(clinic)
    saved = await clinic.client.post("/admin/clinic", data={**FORM, "csrf_token": csrf})
    assert saved.status_code == 303
    got = await clinic.client.get("/api/admin/clinic", headers=await clinic.staff(Role.admin))
    body = got.json()
    assert body["version"] == 1
    assert body["name"] == "Afya Clinic"
    assert body["default_language"] == "sw"
    assert body["notification_channels"] == ["in_app", "sms", "email"]
    assert body["reminder_minutes"] == [1440, 60]


async def test_only_an_admin_opens_the_page(clinic: QueueClinic) -> None:
    doctor = await clinic.accounts.make(Role.doctor)
    await sign_in_page_staff(clinic.client, doctor)
    assert (await clinic.client.get("/admin/clinic")).status_code == 403
    assert (await clinic.client.get("/admin/clinic/queue-rules")).status_code == 403


async def order_of(clinic: QueueClinic, doctor: User, desk: dict[str, str]) -> list[int]:
    """The queue's tokens in the order they will be seen."""
    entries = (await clinic.queue(doctor, desk))["entries"]
    waiting = [e for e in entries if e["position"] is not None]
    return [e["token"] for e in sorted(waiting, key=lambda e: e["position"])]


def tokens_in(html: str) -> list[int]:
    return [int(t) for t in re.findall(r'data-testid="preview-place" data-token="(\d+)"', html)]


async def test_the_preview_reorders_todays_waiting_patients_without_saving(
    clinic: QueueClinic, session: AsyncSession
) -> None:
    doctor, _headers = await clinic.doctor()
    desk = await clinic.front_desk()
    for n, patient_type in enumerate(("adult", "adult", "child"), 1):
        walked = await clinic.walk_in(desk, doctor, f"+25478000000{n}", patient_type=patient_type)
        assert walked.status_code == 201, walked.text
    csrf = await signed_in_admin(clinic)

    section = await clinic.client.get("/admin/clinic/queue-rules", headers={"HX-Request": "true"})
    assert tokens_in(section.text) == [1, 2, 3]
    assert "<html" not in section.text  # a fragment for htmx

    proposal = {**WEIGHTS, "patient_type.child": "10", "csrf_token": csrf}
    preview = await clinic.client.post(
        "/admin/clinic/queue-rules/preview", data=proposal, headers={"HX-Request": "true"}
    )
    assert preview.status_code == 200
    assert tokens_in(preview.text) == [3, 1, 2]
    assert "up 2" in preview.text
    rules = await session.scalar(select(func.count()).select_from(QueueRules))
    assert rules == 0  # nothing saved by looking
    assert await order_of(clinic, doctor, desk) == [1, 2, 3]

    bad = await clinic.client.post(
        "/admin/clinic/queue-rules/preview",
        data={**proposal, "patient_type.child": "lots"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 200
    assert tokens_in(bad.text) == [1, 2, 3]  # the rules in force while a weight is not a number

    saved = await clinic.client.post(
        "/admin/clinic/queue-rules", data=proposal, headers={"HX-Request": "true"}
    )
    assert saved.status_code == 200
    assert 'data-testid="rules-saved"' in saved.text
    assert await order_of(clinic, doctor, desk) == [3, 1, 2]
