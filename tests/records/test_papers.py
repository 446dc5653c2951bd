"""The papers: a Swahili patient's prescription and record read in Swahili (labels and the
stored values' words), with the clinic's address, phone and time zone; the record's notes
are rendered Markdown, never `**raw**` markers."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from pypdf import PdfReader

from clinicflow.clinic import phones
from clinicflow.config import Settings
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from tests.consultations.clinic import MEET, Person
from tests.factories import bearer, latest_code, login
from tests.records.clinic import RecordsClinic

pytestmark = pytest.mark.usefixtures("app")


def text_of(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def swahili_patient(clinic: RecordsClinic) -> Person:
    user = await clinic.accounts.make(Role.patient, profile={"preferred_language": "sw"})
    assert user.phone
    await clinic.client.post("/api/auth/otp/request", json={"phone": user.phone})
    verified = await clinic.client.post(
        "/api/auth/otp/verify",
        json={"phone": user.phone, "code": latest_code(clinic.runtime, user.phone)},
    )
    return Person(user, bearer(verified.json()))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"clinic_address": "Moi Avenue 12, Nairobi", "clinic_phone": "+254 20 123 4567"}
    )


async def test_a_swahili_patients_papers_are_in_swahili_in_the_clinics_zone(
    clinic: RecordsClinic, frozen_clock: FrozenClock
) -> None:
    # 06:30 UTC is 09:30 in Nairobi.
    frozen_clock.current = datetime(2026, 3, 3, 6, 30, tzinfo=UTC)
    patient = await swahili_patient(clinic)
    user = await clinic.accounts.make(
        Role.doctor, profile={"meet_url": MEET, "registration_number": "KMPDC/A1234"}
    )
    doctor = Person(user, bearer(await login(clinic.client, user)))
    visit = await clinic.visit(patient, doctor)
    corrected = await clinic.client.patch(
        f"/api/patients/{patient.id}/profile",
        json={"estimated_age": 40, "sex": "female"},
        headers=(await clinic.staff(Role.receptionist)).headers,
    )
    assert corrected.status_code == 200, corrected.text
    await clinic.note(
        doctor,
        visit.id,
        body_markdown="Koo **jekundu**.\n\n- Pumzika\n- Kunywa maji",
    )
    issued = (await clinic.prescribe(doctor, visit.id)).json()

    paper = text_of(
        (
            await clinic.client.get(
                f"/api/prescriptions/{issued['id']}.pdf", headers=patient.headers
            )
        ).content
    )
    assert "Dawa" in paper  # "Medicine" in Swahili, with no `lang`: the patient's language
    assert "Moi Avenue 12, Nairobi" in paper
    assert "+254 20 123 4567" in paper
    assert "09:30" in paper
    assert "06:30" not in paper
    assert "KMPDC/A1234" in paper
    assert "~40" in paper
    assert "Mwanamke" in paper  # "Female" in Swahili

    record = text_of(
        (
            await clinic.client.get(
                f"/api/patients/{patient.id}/export.pdf", headers=patient.headers
            )
        ).content
    )
    assert "Gumzo" in record  # the consultation's type ("chat"), in Swahili
    assert "chat" not in record
    assert "ended" not in record
    assert "jekundu" in record
    assert "**" not in record
    assert "- Pumzika" not in record  # a list item, not the Markdown marker
    assert "Pumzika" in record
    # The patient's phone in the clinic's national format, as every page shows it.
    assert patient.user.phone is not None
    assert phones.shown(patient.user.phone, "KE") in record
    assert patient.user.phone not in record


async def test_a_prescription_issued_late_in_utc_is_dated_the_clinics_next_day(
    clinic: RecordsClinic, frozen_clock: FrozenClock
) -> None:
    """21:05 UTC on 5 December is 00:05 on 6 December in Nairobi: the PDF (in English and
    in Swahili, 24-hour in both), the record's PDF and the public verification page all
    say 6 December, never 5 December nor a UTC time."""
    frozen_clock.current = datetime(2026, 12, 5, 21, 5, tzinfo=UTC)
    patient = await swahili_patient(clinic)
    user = await clinic.accounts.make(Role.doctor, profile={"meet_url": MEET})
    doctor = Person(user, bearer(await login(clinic.client, user)))
    visit = await clinic.visit(patient, doctor)
    issued = (await clinic.prescribe(doctor, visit.id)).json()
    address = f"/api/prescriptions/{issued['id']}.pdf"

    swahili = text_of((await clinic.client.get(address, headers=patient.headers)).content)
    assert "6 Des 2026 00:05 (Africa/Nairobi)" in swahili
    english = text_of(
        (await clinic.client.get(address, params={"lang": "en"}, headers=patient.headers)).content
    )
    assert "Dec 6, 2026, 00:05 (Africa/Nairobi)" in english
    for paper in (swahili, english):
        assert "21:05" not in paper
        assert "Dec 5" not in paper
        assert "5 Des" not in paper
        # A word, not letters: the random verification code may hold "AM" ("5P-AM2A-…").
        assert not re.search(r"\b[AP]M\b", paper)

    record = text_of(
        (
            await clinic.client.get(
                f"/api/patients/{patient.id}/export.pdf", headers=patient.headers
            )
        ).content
    )
    assert "6 Des 2026 00:05" in record
    assert "Imekamilika" in record  # the visit's status ("Finished"), in Swahili
    assert "21:05" not in record

    verified = await clinic.client.get(
        f"/verify/{issued['verification_code']}", headers={"Cookie": "cf_lang=en"}
    )
    assert "Dec 6, 2026" in verified.text
    assert "Dec 5, 2026" not in verified.text


def test_the_clinic_time_zone_must_be_a_real_one(settings: Settings) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({**settings.model_dump(), "clinic_timezone": "Africa/Nairobbi"})
    assert Settings.model_validate(settings.model_dump()).clinic_timezone == "Africa/Nairobi"
