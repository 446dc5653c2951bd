"""The `clinicflow` command, run for real against the test database."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.config import Settings
from clinicflow.consultations.models import Consultation, Message
from clinicflow.consultations.schemas import ConsultationStatus, MessageKind
from clinicflow.identity.models import DoctorProfile, Specialty, User
from clinicflow.identity.schemas import Role
from clinicflow.queue.models import QueueEntry
from clinicflow.records.models import Prescription, VisitNoteVersion
from clinicflow.scheduling.models import Availability
from tests.factories import run_cli

pytestmark = pytest.mark.usefixtures("app")


async def cli(
    settings: Settings, *args: str, env: str = "test"
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run_cli, settings, *args, env=env)


async def test_user_create_staff_then_log_in(settings: Settings, client: httpx.AsyncClient) -> None:
    result = await cli(
        settings,
        "user", "create", "--role", "admin", "--name", "First Admin",
        "--email", "first@clinic.example.com", "--password", "first admin password",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Created admin First Admin" in result.stdout
    response = await client.post(
        "/api/auth/login",
        json={"email": "first@clinic.example.com", "password": "first admin password"},
    )
    assert response.status_code == 200
    assert response.json()["user"]["role"] == "admin"


async def test_user_create_generates_a_password_when_none_is_given(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    result = await cli(
        settings, "user", "create", "--role", "doctor", "--name", "Dr. X",
        "--email", "x@clinic.example.com",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    password = result.stdout.split("Password: ")[1].strip()
    response = await client.post(
        "/api/auth/login", json={"email": "x@clinic.example.com", "password": password}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("typed", ["+254 700 123 456", "0700 123 456"])
async def test_user_create_patient_by_phone(
    settings: Settings, session: AsyncSession, typed: str
) -> None:
    """International or national in the clinic's region (KE), stored E.164."""
    result = await cli(
        settings, "user", "create", "--role", "patient", "--name", "Amina", "--phone", typed
    )
    assert result.returncode == 0, result.stderr
    patient = (await session.scalars(select(User))).one()
    assert (patient.role, patient.phone) == (Role.patient, "+254700123456")


@pytest.mark.parametrize(
    "args",
    [
        ("--role", "patient", "--name", "P", "--phone", "0700"),
        ("--role", "doctor", "--name", "D", "--email", "not-an-email"),
        ("--role", "patient", "--name", "P"),
        ("--role", "nurse", "--name", "N", "--email", "n@clinic.example.com"),
    ],
)
async def test_user_create_refuses_bad_input(
    settings: Settings, session: AsyncSession, args: tuple[str, ...]
) -> None:
    result = await cli(settings, "user", "create", *args)
    assert result.returncode != 0
    assert result.stderr.strip()
    assert await session.scalar(select(func.count()).select_from(User)) == 0


async def test_demo_loads_once_and_prints_logins(settings: Settings, session: AsyncSession) -> None:
    first = await cli(settings, "demo", env="development")
    assert first.returncode == 0, first.stderr
    assert "admin@clinic.example.com" in first.stdout
    roles = (await session.scalars(select(User.role))).all()
    assert sorted(r.value for r in set(roles)) == ["admin", "doctor", "patient", "receptionist"]
    assert (roles.count(Role.doctor), roles.count(Role.patient)) == (3, 10)
    weeks = (await session.scalars(select(Availability))).all()
    assert len(weeks) == 3
    assert all(week.weekly["mon"] for week in weeks), "demo doctors have hours to book"
    # The demo doctors' specialties come from the list, so a Swahili reader reads Swahili.
    listed = (await session.scalars(select(DoctorProfile.specialty_id))).all()
    assert len(listed) == 3
    assert all(listed), "every demo doctor's specialty is one of the list's"
    names = (await session.scalars(select(Specialty.name_sw).order_by(Specialty.name_sw))).all()
    assert names == ["Ngozi", "Tiba ya jumla", "Watoto"]
    tokens = (await session.scalars(select(QueueEntry.token).order_by(QueueEntry.token))).all()
    assert tokens == [1, 2, 3, 4], "the demo queue has patients waiting"
    statuses = (await session.scalars(select(Consultation.status))).all()
    assert sorted(statuses) == sorted(
        [ConsultationStatus.ended, ConsultationStatus.active, ConsultationStatus.pending]
    ), "a doctor's list has a request, a chat under way and a finished one"
    ended = await session.scalar(
        select(Consultation).where(Consultation.status == ConsultationStatus.ended)
    )
    assert ended is not None
    said = await session.scalar(
        select(func.count()).where(
            Message.consultation_id == ended.id, Message.kind == MessageKind.text
        )
    )
    assert said == 4
    for record in (VisitNoteVersion, Prescription):
        count = select(func.count()).select_from(record)
        assert await session.scalar(count.where(record.consultation_id == ended.id)) == 1

    second = await cli(settings, "demo", env="development")
    assert second.returncode == 0
    assert second.stdout == first.stdout
    assert await session.scalar(select(func.count()).select_from(User)) == len(roles)


async def test_demo_refuses_outside_development(settings: Settings) -> None:
    keyed = settings.model_copy(update={"field_encryption_keys": [Fernet.generate_key().decode()]})
    result = await cli(keyed, "demo", env="production")
    assert result.returncode == 2
    assert "development" in result.stderr


async def test_commands_refuse_an_unsafe_configuration(settings: Settings) -> None:
    unsafe = settings.model_copy(update={"secret_key": "short"})
    result = await cli(unsafe, "migrate", env="production")
    assert result.returncode == 2
    assert "CLINICFLOW_SECRET_KEY" in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_serve_binds_where_it_is_told(settings: Settings) -> None:
    port = free_port()
    environment = {
        "CLINICFLOW_ENV": "test",
        "CLINICFLOW_SECRET_KEY": settings.secret_key,
        "DATABASE_URL": settings.database_url,
        "CLINICFLOW_VAR_DIR": str(settings.var_dir),
        "PATH": "/usr/bin:/bin",
    }
    server = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, not awaited
        [sys.executable, "-m", "clinicflow", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(150):
                try:
                    response = await client.get(f"http://127.0.0.1:{port}/health")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("the server never answered")
        assert response.status_code == 200
        assert response.json()["checks"]["database"] == "ok"
    finally:
        server.terminate()
        server.wait(timeout=10)


async def test_the_served_app_keeps_full_collections_rare(settings: Settings) -> None:
    """`serve` moves the start-up heap out of the collector's way and makes full
    collections rare: with 1,000 sockets open each one paused the server for ~180 ms."""
    program = (
        "import gc; from clinicflow.cli import serving_app; serving_app(); "
        "print(gc.get_threshold()[2], gc.get_freeze_count())"
    )
    environment = {
        "CLINICFLOW_ENV": "test",
        "CLINICFLOW_SECRET_KEY": settings.secret_key,
        "DATABASE_URL": settings.database_url,
        "CLINICFLOW_VAR_DIR": str(settings.var_dir),
        "PATH": "/usr/bin:/bin",
    }
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", program],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    full_every, frozen = (int(word) for word in result.stdout.split())
    assert full_every >= 1000
    assert frozen > 10_000
