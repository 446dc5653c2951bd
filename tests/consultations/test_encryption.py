"""Clinical text is encrypted at rest, keys rotate without losing old rows, and the doctor's
notes and recording details follow their own rules."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.consultations import service as consultations
from clinicflow.consultations.schemas import ConsultationStatus, ConsultationType
from clinicflow.core import security
from clinicflow.core.audit import AuditEntry
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic

pytestmark = pytest.mark.usefixtures("app")
S = ConsultationStatus


async def raw(session: AsyncSession, query: str) -> list[str]:
    return [row[0] for row in await session.execute(text(query))]


async def test_clinical_text_is_not_in_the_database_in_the_clear(
    clinic: Clinic, session: AsyncSession
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, S.active)
    base = f"/api/consultations/{consultation.id}"
    await clinic.send(patient, consultation.id, "I have chest pain since Monday")
    await clinic.client.put(
        f"{base}/notes", json={"notes": "Rule out angina"}, headers=doctor.headers
    )
    declined = await clinic.consultation(patient, doctor)
    await clinic.client.post(
        f"/api/consultations/{declined.id}/decline",
        json={"reason": "Go to the emergency room"},
        headers=doctor.headers,
    )

    bodies = await raw(session, "SELECT body FROM consultation_messages")
    problems = await raw(session, "SELECT problem FROM consultations")
    notes = await raw(session, "SELECT notes FROM consultations WHERE notes IS NOT NULL")
    reasons = await raw(
        session, "SELECT decline_reason FROM consultations WHERE decline_reason IS NOT NULL"
    )
    stored = " ".join([*bodies, *problems, *notes, *reasons])
    for secret in ("chest pain", "angina", "Headache", "emergency", "accepted"):
        assert secret not in stored
    assert all(value.startswith("gAAAA") for value in [*bodies, *problems, *notes, *reasons])

    # Through the application everything reads back as written.
    history = await clinic.client.get(f"{base}/messages", headers=patient.headers)
    assert history.json()["items"][-1]["body"] == "I have chest pain since Monday"
    assert (await clinic.client.get(f"{base}/notes", headers=doctor.headers)).json() == {
        "notes": "Rule out angina"
    }


async def test_rotation_keeps_old_rows_readable(
    clinic: Clinic, runtime: Runtime, session: AsyncSession, settings: Settings
) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    security.configure_field_encryption(keys=[old_key], secret_key=settings.secret_key)
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, S.active)
    await clinic.send(patient, consultation.id, "written under the old key")

    # The new key goes first; the old one stays behind it for reading.
    security.configure_field_encryption(keys=[new_key, old_key], secret_key=settings.secret_key)
    await clinic.send(patient, consultation.id, "written under the new key")
    history = await clinic.client.get(
        f"/api/consultations/{consultation.id}/messages", headers=patient.headers
    )
    assert [m["body"] for m in history.json()["items"][-2:]] == [
        "written under the old key",
        "written under the new key",
    ]
    [newest] = await raw(session, "SELECT body FROM consultation_messages WHERE seq = 3")
    assert Fernet(new_key.encode()).decrypt(newest.encode()) == b"written under the new key"
    with pytest.raises(InvalidToken):
        Fernet(old_key.encode()).decrypt(newest.encode())

    # Dropping the old key too early fails loudly rather than returning garbage.
    security.configure_field_encryption(keys=[new_key], secret_key=settings.secret_key)
    with pytest.raises(InvalidToken):
        async with runtime.transaction(write=False) as tx:
            await consultations.history(
                session=tx, actor=patient.user, consultation_id=consultation.id
            )


def test_without_keys_one_is_derived_from_the_secret() -> None:
    first = security.derive_field_key("a" * 40)
    assert first == security.derive_field_key("a" * 40)
    assert first != security.derive_field_key("b" * 40)
    Fernet(first.encode())  # a valid Fernet key
    security.configure_field_encryption(keys=[], secret_key="a" * 40)
    token = security.encrypt_text("hello")
    assert Fernet(first.encode()).decrypt(token.encode()) == b"hello"


def test_a_bad_key_is_refused_without_being_repeated() -> None:
    with pytest.raises(ValueError, match="field_encryption_keys") as refused:
        security.configure_field_encryption(keys=["not-a-key-xyz"], secret_key="a" * 40)
    assert "not-a-key-xyz" not in str(refused.value)


def test_keys_come_from_the_environment_as_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", f'["{key}"]')
    loaded = Settings(env="development")
    assert loaded.field_encryption_keys == [key]
    assert key not in repr(loaded)


async def test_notes_are_replaced_cleared_and_audited(
    clinic: Clinic, session: AsyncSession
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, S.active)
    path = f"/api/consultations/{consultation.id}/notes"
    assert (await clinic.client.get(path, headers=doctor.headers)).json() == {"notes": ""}
    for notes in ("first", "second", ""):
        saved = await clinic.client.put(path, json={"notes": notes}, headers=doctor.headers)
        assert saved.json() == {"notes": notes}
    assert (await clinic.client.get(path, headers=doctor.headers)).json() == {"notes": ""}
    too_long = await clinic.client.put(path, json={"notes": "x" * 20001}, headers=doctor.headers)
    assert too_long.status_code == 422
    actions = list(
        await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.resource_id == str(consultation.id))
            .order_by(AuditEntry.seq)
        )
    )
    assert actions.count("consultation.notes_update") == 3
    assert actions.count("consultation.notes_read") == 2


async def test_recording_details_for_audio_and_video_only(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    video = await clinic.consultation(patient, doctor, S.ended, type=ConsultationType.video)
    chat = await clinic.consultation(patient, doctor, S.active)
    pending = await clinic.consultation(patient, doctor, type=ConsultationType.audio)
    body = {
        "url": "https://storage.example.com/rec/1.webm",
        "duration_seconds": 600,
        "size_bytes": 12345,
    }

    saved = await clinic.client.put(
        f"/api/consultations/{video.id}/recording", json=body, headers=doctor.headers
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["recording"] == body
    seen = await clinic.client.get(f"/api/consultations/{video.id}", headers=patient.headers)
    assert seen.json()["recording"] == body

    on_chat = await clinic.client.put(
        f"/api/consultations/{chat.id}/recording", json=body, headers=doctor.headers
    )
    assert on_chat.status_code == 409
    assert on_chat.json()["error"]["code"] == "recording_not_allowed"
    before_the_call = await clinic.client.put(
        f"/api/consultations/{pending.id}/recording", json=body, headers=doctor.headers
    )
    assert before_the_call.status_code == 409
    by_patient = await clinic.client.put(
        f"/api/consultations/{video.id}/recording", json=body, headers=patient.headers
    )
    assert by_patient.status_code == 403
    admin = await clinic.staff(Role.admin)
    by_admin = await clinic.client.put(
        f"/api/consultations/{video.id}/recording", json=body, headers=admin.headers
    )
    assert by_admin.status_code == 403
    for bad in ({**body, "url": "ftp://x"}, {**body, "duration_seconds": -1}, {"url": body["url"]}):
        refused = await clinic.client.put(
            f"/api/consultations/{video.id}/recording", json=bad, headers=doctor.headers
        )
        assert refused.status_code == 422, bad
