"""Input an attacker sends to find a 500: numbers past a column's range, NUL bytes, digits
that are not ASCII. Each is a 4xx in the one error shape, on SQLite and on PostgreSQL (the
PostgreSQL run is where these answered 500: an int4 column refuses 2147483648, text
refuses NUL)."""

from __future__ import annotations

import httpx
import pytest

from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic
from tests.factories import Accounts

pytestmark = pytest.mark.usefixtures("app")

PAST_INT4 = 2**31  # 2147483648: one past PostgreSQL's integer column


@pytest.fixture
def clinic(client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime) -> Clinic:
    return Clinic(client, accounts, runtime)


async def test_sequence_numbers_past_the_column_are_refused(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    base = f"/api/consultations/{consultation.id}"
    answers = [
        await clinic.client.get(
            f"{base}/messages", params={"before_seq": PAST_INT4}, headers=doctor.headers
        ),
        await clinic.client.post(
            f"{base}/assistant/memory", json={"message_seq": PAST_INT4}, headers=doctor.headers
        ),
        await clinic.client.post(
            f"{base}/assistant/cancel", json={"question_seq": PAST_INT4}, headers=doctor.headers
        ),
    ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "validation_error"
    # The largest value the column holds is still an ordinary question.
    largest = await clinic.client.get(
        f"{base}/messages", params={"before_seq": PAST_INT4 - 1}, headers=doctor.headers
    )
    assert largest.status_code == 200


async def test_a_poll_since_past_the_column_is_not_a_500(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    for since in (PAST_INT4, 2**62):
        answer = await clinic.client.get(
            "/api/events",
            params={"topic": f"consultation:{consultation.id}", "since": since},
            headers=doctor.headers,
        )
        assert answer.status_code < 500, answer.text


@pytest.mark.parametrize("path", ["/book", "/desk/book", "/api/doctors", "/api/admin/users"])
async def test_a_nul_in_a_search_is_refused(clinic: Clinic, path: str) -> None:
    admin = await clinic.staff(Role.admin)
    answer = await clinic.client.get(path, params={"q": "ab\x00cd"}, headers=admin.headers)
    assert answer.status_code == 422, answer.text


@pytest.mark.parametrize(
    "phone",
    [
        "+254７12345678",  # fullwidth seven
        "+254٧12345678",  # Arabic-Indic seven
        "+２５４712345678",
    ],
)
async def test_a_phone_with_digits_that_are_not_ascii_is_refused(
    client: httpx.AsyncClient, phone: str
) -> None:
    answer = await client.post("/api/auth/otp/request", json={"phone": phone})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_error"


async def test_the_desk_cannot_register_a_walk_in_with_such_a_phone(clinic: Clinic) -> None:
    desk = await clinic.staff(Role.receptionist)
    doctor = await clinic.doctor()
    answer = await clinic.client.post(
        "/api/queue/walk-in",
        json={"doctor_id": str(doctor.id), "phone": "+254٧12345678", "name": "Juma"},
        headers=desk.headers,
    )
    assert answer.status_code == 422, answer.text


async def test_a_replay_after_the_last_possible_seq_is_empty(
    clinic: Clinic, runtime: Runtime
) -> None:
    """The socket's subscribe reaches the same replay with any `since` it is sent."""
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    async with runtime.transaction(write=False) as session:
        events, _ = await runtime.hub.poll(
            session=session,
            user=doctor.user,
            name=f"consultation:{consultation.id}",
            since=10**30,
        )
    assert events == []
