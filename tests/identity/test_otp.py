"""Patients sign in with a 6-digit code texted to their phone."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.core.audit import AuditEntry
from clinicflow.core.clock import FrozenClock
from clinicflow.identity import service as identity
from clinicflow.identity.models import OtpCode, User
from clinicflow.identity.schemas import Role
from clinicflow.notifications.schemas import Channel
from clinicflow.runtime import Runtime
from tests.factories import Accounts, bearer, latest_code

pytestmark = pytest.mark.usefixtures("app")
PHONE = "+254722000111"


async def request_code(client: httpx.AsyncClient, phone: str = PHONE) -> httpx.Response:
    return await client.post("/api/auth/otp/request", json={"phone": phone})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_known_patient_signs_in_with_code(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    patient = await accounts.make(Role.patient, phone=PHONE)
    response = await request_code(client)
    assert response.status_code == 202
    assert response.json() == {"sent": True, "expires_in_seconds": 300, "resend_after_seconds": 30}

    code = latest_code(runtime, PHONE)
    verified = await client.post("/api/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert verified.status_code == 200
    body = verified.json()
    assert body["user"]["id"] == str(patient.id)
    me = await client.get("/api/me", headers=bearer(body))
    assert me.json()["role"] == "patient"


async def test_code_is_stored_hashed(
    client: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    await request_code(client)
    code = latest_code(runtime, PHONE)
    stored = (await session.scalars(select(OtpCode))).one()
    assert code not in stored.code_hash
    assert len(stored.code_hash) == 64


@pytest.mark.parametrize("typed", ["+254 722-000 111", "0722 000 111", "722000111", "254722000111"])
async def test_phone_is_normalised_to_e164(
    client: httpx.AsyncClient, runtime: Runtime, typed: str
) -> None:
    """National and international spellings of the clinic's region (KE) are one number."""
    response = await request_code(client, typed)
    assert response.status_code == 202
    assert latest_code(runtime, PHONE)


@pytest.mark.parametrize("phone", ["0722000", "+0722000111", "+25", "phone", "0722 000 111 ext 4"])
async def test_bad_phone_is_refused(client: httpx.AsyncClient, phone: str) -> None:
    response = await request_code(client, phone)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_new_phone_needs_a_name_then_becomes_a_patient(
    client: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    await request_code(client)
    code = latest_code(runtime, PHONE)
    nameless = await client.post("/api/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert nameless.status_code == 422
    assert nameless.json()["error"]["code"] == "name_required"

    named = await client.post(
        "/api/auth/otp/verify", json={"phone": PHONE, "code": code, "name": "  Amina Wanjiru "}
    )
    assert named.status_code == 200
    user = named.json()["user"]
    assert (user["name"], user["phone"], user["role"]) == ("Amina Wanjiru", PHONE, "patient")
    assert user["patient"]["patient_type"] == "adult"
    assert await session.scalar(select(func.count()).select_from(User)) == 1


async def test_a_wrong_code_and_a_registration_store_the_requests_address(
    client: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    """Audit rows take the address from the request's unit of work (the test client is
    203.0.113.7), not from an argument of the verb."""
    await request_code(client)
    code = latest_code(runtime, PHONE)
    await client.post("/api/auth/otp/verify", json={"phone": PHONE, "code": wrong(code)})
    signed_up = await client.post(
        "/api/auth/otp/verify", json={"phone": PHONE, "code": code, "name": "Amina Wanjiru"}
    )
    assert signed_up.status_code == 200, signed_up.text
    rows = (
        await session.execute(
            select(AuditEntry.action, AuditEntry.outcome, AuditEntry.ip).order_by(AuditEntry.seq)
        )
    ).all()
    assert [tuple(row) for row in rows] == [
        ("auth.login", "failure", "203.0.113.7"),
        ("user.register", "success", "203.0.113.7"),
        ("auth.login", "success", "203.0.113.7"),
    ]


async def test_code_expires_after_five_minutes(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> None:
    await accounts.make(Role.patient, phone=PHONE)
    await request_code(client)
    code = latest_code(runtime, PHONE)
    frozen_clock.advance(minutes=5, seconds=1)
    response = await client.post("/api/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "code_expired"


async def test_code_still_works_just_before_expiry(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> None:
    await accounts.make(Role.patient, phone=PHONE)
    await request_code(client)
    code = latest_code(runtime, PHONE)
    frozen_clock.advance(minutes=4, seconds=59)
    response = await client.post("/api/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert response.status_code == 200


async def test_five_wrong_tries_burn_the_code(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    await accounts.make(Role.patient, phone=PHONE)
    await request_code(client)
    code = latest_code(runtime, PHONE)
    answers = []
    for _ in range(5):
        response = await client.post(
            "/api/auth/otp/verify", json={"phone": PHONE, "code": wrong(code)}
        )
        answers.append((response.json()["error"]["code"], response.json()["error"]["details"]))
    assert answers[:4] == [("invalid_code", {"attempts_left": n}) for n in (4, 3, 2, 1)]
    assert answers[4][0] == "too_many_attempts"

    right = await client.post("/api/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert right.status_code == 400
    assert right.json()["error"]["code"] == "too_many_attempts"


async def test_concurrent_wrong_guesses_never_exceed_the_cap(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, session: AsyncSession
) -> None:
    await accounts.make(Role.patient, phone=PHONE)
    await request_code(client)
    code = latest_code(runtime, PHONE)
    responses = await asyncio.gather(
        *[
            client.post("/api/auth/otp/verify", json={"phone": PHONE, "code": wrong(code)})
            for _ in range(20)
        ]
    )
    assert all(r.status_code in (400, 429) for r in responses)
    stored = (await session.scalars(select(OtpCode))).one()
    assert stored.attempts == 5


async def test_a_new_code_replaces_the_old_one(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, frozen_clock: FrozenClock
) -> None:
    await accounts.make(Role.patient, phone=PHONE)
    await request_code(client)
    first = latest_code(runtime, PHONE)
    frozen_clock.advance(seconds=31)
    assert (await request_code(client)).status_code == 202
    second = latest_code(runtime, PHONE)
    if first != second:
        stale = await client.post("/api/auth/otp/verify", json={"phone": PHONE, "code": first})
        assert stale.status_code == 400
    fresh = await client.post("/api/auth/otp/verify", json={"phone": PHONE, "code": second})
    assert fresh.status_code == 200


async def test_a_code_works_only_once(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    await accounts.make(Role.patient, phone=PHONE)
    await request_code(client)
    code = latest_code(runtime, PHONE)
    first = await client.post("/api/auth/otp/verify", json={"phone": PHONE, "code": code})
    again = await client.post("/api/auth/otp/verify", json={"phone": PHONE, "code": code})
    assert first.status_code == 200
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_code"


async def test_resend_is_throttled(client: httpx.AsyncClient, frozen_clock: FrozenClock) -> None:
    assert (await request_code(client)).status_code == 202
    too_soon = await request_code(client)
    assert too_soon.status_code == 429
    assert 0 < int(too_soon.headers["Retry-After"]) <= 30


async def test_staff_phone_cannot_use_code_login(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    await accounts.make(Role.doctor, phone=PHONE)
    await request_code(client)
    response = await client.post(
        "/api/auth/otp/verify", json={"phone": PHONE, "code": latest_code(runtime, PHONE)}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "wrong_login_method"


async def test_code_message_uses_the_patients_language(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    await accounts.make(Role.patient, phone=PHONE, profile={"preferred_language": "sw"})
    await request_code(client)
    assert runtime.outbox is not None
    body = runtime.outbox.messages()[0].body
    assert "clinicflow" in body
    assert "expires" not in body


async def test_the_code_goes_out_by_sms_once_committed_and_never_for_a_rolled_back_request(
    runtime: Runtime, settings: Settings
) -> None:
    """Identity texts the code through the `CodeSender` the runtime put in the session
    (notifications' SMS), after the commit: a request that rolls back texts nothing."""
    assert runtime.outbox is not None

    class RolledBack(Exception):
        pass

    async def ask(session: AsyncSession, phone: str) -> None:
        await identity.request_otp(
            session=session,
            settings=settings,
            limiter=runtime.limiter,
            phone=phone,
            client=identity.Client(ip="192.0.2.1"),
        )

    async def ask_then_fail() -> None:
        async with runtime.transaction() as session:
            await ask(session, "+254722000999")
            raise RolledBack

    with pytest.raises(RolledBack):
        await ask_then_fail()
    assert runtime.outbox.messages() == []
    async with runtime.transaction() as session:
        await ask(session, PHONE)
        assert runtime.outbox.messages() == []
    [message] = runtime.outbox.messages()
    assert (message.to, message.channel) == (PHONE, Channel.sms)
    assert latest_code(runtime, PHONE) in message.body


@pytest.mark.parametrize(
    "payload",
    [
        {"phone": PHONE, "code": "12345"},
        {"phone": PHONE, "code": "abcdef"},
        {"phone": PHONE, "code": 123456},
        {"phone": PHONE},
        {"phone": PHONE, "code": "123456", "name": ""},
    ],
)
async def test_bad_verify_bodies_are_422(client: httpx.AsyncClient, payload: object) -> None:
    response = await client.post("/api/auth/otp/verify", json=payload)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
