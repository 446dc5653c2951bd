"""The patient's clinical profile: who reads and corrects it, its audit rows and kept
versions, the estimated age that keeps counting, and the frozen view other domains read."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role, Sex
from clinicflow.identity.service.patient_profiles import whole_years
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic, Person
from tests.factories import Accounts, bearer, login

pytestmark = pytest.mark.usefixtures("app")

PROFILE = {
    "date_of_birth": "1990-06-15",
    "sex": "female",
    "national_id": "12345678",
    "insurance_number": "NHIF-998877",
    "next_of_kin_name": "Juma Mwangi",
    "next_of_kin_phone": "+254 711 000 999",
}


@pytest.fixture
def clinic(client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime) -> Clinic:
    return Clinic(client, accounts, runtime)


def _url(patient: Person) -> str:
    return f"/api/patients/{patient.id}/profile"


async def _audit(session: AsyncSession, action: str) -> list[AuditEntry]:
    rows = await session.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
    )
    return list(rows)


async def _set(clinic: Clinic, who: Person, patient: Person, **body: Any) -> httpx.Response:
    return await clinic.client.patch(_url(patient), json=body, headers=who.headers)


async def test_who_reads_and_who_corrects_a_profile(clinic: Clinic, session: AsyncSession) -> None:
    patient, other_patient = await clinic.patient(), await clinic.patient()
    their_doctor, other_doctor = await clinic.doctor(), await clinic.doctor()
    await clinic.consultation(patient, their_doctor, ConsultationStatus.ended)
    desk, admin = await clinic.staff(Role.receptionist), await clinic.staff(Role.admin)
    assert (await _set(clinic, desk, patient, **PROFILE)).status_code == 200

    reads = {
        "patient": await clinic.client.get(_url(patient), headers=patient.headers),
        "their doctor": await clinic.client.get(_url(patient), headers=their_doctor.headers),
        "another doctor": await clinic.client.get(_url(patient), headers=other_doctor.headers),
        "another patient": await clinic.client.get(_url(patient), headers=other_patient.headers),
        "receptionist": await clinic.client.get(_url(patient), headers=desk.headers),
        "admin": await clinic.client.get(_url(patient), headers=admin.headers),
        "anonymous": await clinic.client.get(_url(patient)),
    }
    assert {who: r.status_code for who, r in reads.items()} == {
        "patient": 200,
        "their doctor": 200,
        "another doctor": 404,
        "another patient": 404,
        "receptionist": 200,
        "admin": 200,
        "anonymous": 401,
    }
    assert reads["their doctor"].json()["national_id"] == "12345678"
    assert reads["another doctor"].json()["error"]["code"] == "not_found"

    writes = {
        "patient": await _set(clinic, patient, patient, insurance_number="X1"),
        "their doctor": await _set(clinic, their_doctor, patient, insurance_number="X2"),
        "another doctor": await _set(clinic, other_doctor, patient, insurance_number="X3"),
        "receptionist": await _set(clinic, desk, patient, insurance_number="X4"),
        "admin": await _set(clinic, admin, patient, insurance_number="X5"),
    }
    assert {who: r.status_code for who, r in writes.items()} == {
        "patient": 403,
        "their doctor": 403,
        "another doctor": 404,
        "receptionist": 200,
        "admin": 200,
    }
    anonymous = await clinic.client.patch(_url(patient), json={"insurance_number": "X6"})
    assert anonymous.status_code == 401
    # A staff member's id that is not a patient's is no profile at all.
    staff_profile = await clinic.client.get(
        f"/api/patients/{their_doctor.id}/profile", headers=desk.headers
    )
    assert staff_profile.status_code == 404

    # Every read by staff is audited (their doctor, the receptionist, the admin), and the
    # patient's own read is not; refused reads leave no read row.
    read_rows = await _audit(session, "patient_profile.read")
    assert [(r.actor_id, r.resource_id) for r in read_rows] == [
        (their_doctor.id, str(patient.id)),
        (desk.id, str(patient.id)),
        (admin.id, str(patient.id)),
    ]
    # Every change is audited with the names of its fields, never their values.
    changes = await _audit(session, "patient_profile.update")
    assert [(r.actor_id, r.details) for r in changes] == [
        (
            desk.id,
            {
                "fields": sorted(PROFILE),
                "version": 1,
            },
        ),
        (desk.id, {"fields": ["insurance_number"], "version": 2}),
        (admin.id, {"fields": ["insurance_number"], "version": 3}),
    ]
    for row in changes:
        assert "12345678" not in str(row.details)
        assert "X4" not in str(row.details)


async def test_the_answer_normalises_and_labels(clinic: Clinic) -> None:
    patient, desk = await clinic.patient(), await clinic.staff(Role.receptionist)
    answer = (await _set(clinic, desk, patient, **PROFILE)).json()
    assert answer == {
        "patient_id": str(patient.id),
        "date_of_birth": "1990-06-15",
        "estimated_age": None,
        "age_label": answer["age_label"],
        "sex": "female",
        "sex_label": "Female",
        "national_id": "12345678",
        "insurance_number": "NHIF-998877",
        "next_of_kin_name": "Juma Mwangi",
        "next_of_kin_phone": "+254711000999",
        "version": 1,
    }
    swahili = await clinic.client.get(
        _url(patient), headers={**desk.headers, "Accept-Language": "sw"}
    )
    assert swahili.json()["sex_label"] == "Mwanamke"


async def test_every_change_is_kept_as_a_version(clinic: Clinic) -> None:
    patient, desk = await clinic.patient(), await clinic.staff(Role.receptionist)
    await _set(clinic, desk, patient, national_id="11111111", sex="male")
    await _set(clinic, desk, patient, national_id="22222222")
    unchanged = await _set(clinic, desk, patient, national_id="22222222")
    assert unchanged.json()["version"] == 2  # the same value again is no new version

    current = await clinic.client.get(_url(patient), headers=desk.headers)
    assert (current.json()["national_id"], current.json()["version"]) == ("22222222", 2)
    history = await clinic.client.get(f"{_url(patient)}/history", headers=desk.headers)
    assert history.status_code == 200
    assert [(v["version"], v["fields"], v["values"]["national_id"]) for v in history.json()] == [
        (2, ["national_id"], "22222222"),
        (1, ["national_id", "sex"], "11111111"),
    ]
    assert history.json()[1]["changed_by_id"] == str(desk.id)
    # The history is for those who correct the profile.
    assert (
        await clinic.client.get(f"{_url(patient)}/history", headers=patient.headers)
    ).status_code == 403


async def test_an_estimated_age_keeps_counting(
    clinic: Clinic, frozen_clock: FrozenClock, runtime: Runtime
) -> None:
    # Given a year before the frozen day (tokens may not be issued after the real today).
    frozen_clock.advance(days=-365)
    patient, desk = await clinic.patient(), await clinic.staff(Role.receptionist)
    given_age = await _set(clinic, desk, patient, estimated_age=40, sex="male")
    assert (given_age.json()["age_label"], given_age.json()["estimated_age"]) == ("~40", 40)

    frozen_clock.advance(days=365)
    desk = Person(desk.user, bearer(await login(clinic.client, desk.user)))  # a year later
    later = await clinic.client.get(_url(patient), headers=desk.headers)
    assert later.status_code == 200, later.text
    assert (later.json()["age_label"], later.json()["estimated_age"]) == ("~41", 41)
    async with runtime.transaction(write=False) as session:
        view = await identity.patient_profile(session, patient.id)
    assert view is not None
    assert (view.age_label, view.sex) == ("~41", Sex.male)

    # A date of birth replaces the estimate, and an age counts whole years to the day.
    born = await _set(clinic, desk, patient, date_of_birth="1990-03-03")
    assert (born.json()["age_label"], born.json()["estimated_age"]) == ("35", None)
    frozen_clock.advance(days=1)  # 2027-03-03: the birthday
    desk = Person(desk.user, bearer(await login(clinic.client, desk.user)))
    assert (await clinic.client.get(_url(patient), headers=desk.headers)).json()[
        "age_label"
    ] == "36"


async def test_bad_input_is_refused_and_changes_nothing(clinic: Clinic) -> None:
    patient, desk = await clinic.patient(), await clinic.staff(Role.receptionist)
    await _set(clinic, desk, patient, national_id="12345678")
    refusals = [
        {"date_of_birth": "1990-01-01", "estimated_age": 30},
        {"date_of_birth": "2999-01-01"},
        {"estimated_age": 200},
        {"sex": "robot"},
        {"next_of_kin_phone": "0711 000"},
        {"national_id": "x" * 41},
        {"national_id": "bad\x00id"},
        {"eye_colour": "brown"},
    ]
    for body in refusals:
        response = await _set(clinic, desk, patient, **body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == "validation_error"
    current = (await clinic.client.get(_url(patient), headers=desk.headers)).json()
    assert (current["national_id"], current["version"]) == ("12345678", 1)


async def test_null_clears_and_sex_falls_back_to_unknown(clinic: Clinic) -> None:
    patient, desk = await clinic.patient(), await clinic.staff(Role.receptionist)
    await _set(clinic, desk, patient, **PROFILE)
    cleared = await _set(clinic, desk, patient, national_id=None, sex=None)
    assert (cleared.json()["national_id"], cleared.json()["sex"]) == (None, "unknown")
    assert cleared.json()["insurance_number"] == "NHIF-998877"


async def test_other_domains_read_the_frozen_views(clinic: Clinic, runtime: Runtime) -> None:
    first, second = await clinic.patient(), await clinic.patient()
    doctor, desk = await clinic.doctor(), await clinic.staff(Role.receptionist)
    await _set(clinic, desk, first, estimated_age=40, sex="female")
    async with runtime.transaction(write=False) as session:
        views = await identity.patient_profiles(session, [first.id, second.id, doctor.id])
        assert await identity.patient_profile(session, doctor.id) is None
    assert set(views) == {first.id, second.id}
    assert (views[first.id].age_label, views[first.id].sex.label) == ("~40", "Female")
    assert (views[second.id].age_label, views[second.id].sex) == ("", Sex.unknown)


async def test_identity_numbers_and_next_of_kin_are_ciphertext_at_rest(
    clinic: Clinic, session: AsyncSession
) -> None:
    patient, desk = await clinic.patient(), await clinic.staff(Role.receptionist)
    await _set(clinic, desk, patient, **PROFILE)
    row = (
        await session.execute(
            text(
                "SELECT national_id, insurance_number, next_of_kin_name, next_of_kin_phone "
                "FROM patient_profiles WHERE national_id IS NOT NULL"
            )
        )
    ).one()
    assert all(value.startswith("gAAAA") for value in row)
    kept = (await session.execute(text('SELECT "values" FROM patient_profile_versions'))).one()
    assert kept[0].startswith("gAAAA")
    assert "Juma" not in kept[0]


@settings(max_examples=60, deadline=None)
@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)),
    first=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
    second=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
    years=st.integers(min_value=1, max_value=60),
)
def test_an_age_counts_whole_years_and_turns_on_the_birthday(
    born: date, first: date, second: date, years: int
) -> None:
    """Property: an age is never negative, never goes down as time passes, and goes up by
    one exactly on the birthday (a 29 February birthday turns on 1 March)."""
    early, late = sorted((first, second))
    assert 0 <= whole_years(born, early) <= whole_years(born, late)
    try:
        birthday = born.replace(year=born.year + years)
    except ValueError:
        birthday = date(born.year + years, 3, 1)
    assert whole_years(born, birthday) == years
    assert whole_years(born, birthday - timedelta(days=1)) == years - 1
