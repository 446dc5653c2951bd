"""`GET /api/calls/ice-servers`: STUN and TURN from settings, and TURN credentials minted in
coturn's REST scheme (`use-auth-secret`): username "<expiry>:<user id>", password
base64(HMAC-SHA1(secret, username))."""

from __future__ import annotations

import base64
import hmac
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from clinicflow.calls import service as calls
from clinicflow.config import Settings
from clinicflow.core.clock import FrozenClock
from clinicflow.identity.schemas import Role
from tests.consultations.clinic import Clinic

SECRET = "north-wing-coturn-secret"
SHA1_BYTES = 20


def coturn_password(secret: str, username: str) -> str:
    """What coturn computes for a REST username (turnserver.conf, `static-auth-secret`)."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), "sha1").digest()).decode()


def test_turn_credentials_follow_coturns_rest_scheme() -> None:
    user_id = uuid.UUID("0b9f1c2e-0000-4000-8000-000000000001")
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    username, credential = calls.turn_credentials(
        secret=SECRET, user_id=user_id, ttl_seconds=600, now=now
    )
    assert username == f"{int(now.timestamp()) + 600}:{user_id}" == f"1772442600:{user_id}"
    assert credential == coturn_password(SECRET, username)
    # HMAC-SHA1: 20 bytes, 28 characters of base64.
    assert len(base64.b64decode(credential)) == SHA1_BYTES
    other, _ = calls.turn_credentials(secret=SECRET, user_id=uuid.uuid4(), ttl_seconds=600, now=now)
    assert other != username


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "stun_urls": ["stun:stun.clinic.example:3478"],
            "turn_urls": ["turn:turn.clinic.example:3478?transport=udp"],
            "turn_secret": SECRET,
            "turn_ttl_seconds": 900,
        }
    )


async def test_the_api_hands_callers_fresh_turn_credentials(
    clinic: Clinic, frozen_clock: FrozenClock
) -> None:
    patient = await clinic.patient()
    answer = await clinic.client.get("/api/calls/ice-servers", headers=patient.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ttl_seconds"] == 900
    stun, turn = body["ice_servers"]
    assert stun == {"urls": ["stun:stun.clinic.example:3478"], "username": None, "credential": None}
    expiry = int(frozen_clock.current.timestamp()) + 900
    assert turn["urls"] == ["turn:turn.clinic.example:3478?transport=udp"]
    assert turn["username"] == f"{expiry}:{patient.id}"
    assert turn["credential"] == coturn_password(SECRET, turn["username"])


async def test_only_callers_get_ice_servers(client: httpx.AsyncClient, clinic: Clinic) -> None:
    doctor = await clinic.doctor()
    answer = await client.get("/api/calls/ice-servers", headers=doctor.headers)
    assert answer.json()["ice_servers"][1]["username"].endswith(f":{doctor.id}")
    receptionist = await clinic.staff(Role.receptionist)
    refused = await client.get("/api/calls/ice-servers", headers=receptionist.headers)
    assert refused.status_code == 403
    assert (await client.get("/api/calls/ice-servers")).status_code == 401
