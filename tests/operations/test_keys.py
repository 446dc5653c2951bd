"""Key rotation: every encrypted column and file moves to the first key, batch by batch; an
interrupted rotation carries on when run again; afterwards the old key can go, and
`clinicflow keys check` names what no current key opens."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from typer.testing import CliRunner

from clinicflow import cli
from clinicflow.config import Settings
from clinicflow.consultations.models import Consultation, Message
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.consultations.storage import LocalFileStore
from clinicflow.core import security
from clinicflow.operations import keys
from clinicflow.runtime import Runtime, build_runtime
from tests.consultations.clinic import Clinic
from tests.factories import Accounts, run_cli

pytestmark = pytest.mark.usefixtures("app")

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
FILE = b"%PDF-1.4 a scanned referral letter"


@pytest.fixture
def restore_keys(settings: Settings) -> Iterator[None]:
    """The process's cipher is global: leave it as the other tests expect."""
    yield
    security.configure_field_encryption(
        keys=settings.field_encryption_keys, secret_key=settings.secret_key
    )


def keyed(settings: Settings, *field_keys: str) -> Runtime:
    """A runtime whose settings name these keys (building it sets the process's cipher)."""
    return build_runtime(settings.model_copy(update={"field_encryption_keys": list(field_keys)}))


async def _clinic_data(client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime) -> int:
    """Consultations with messages: each an encrypted problem and encrypted bodies."""
    clinic = Clinic(client, accounts, runtime)
    patient, doctor = await clinic.patient(), await clinic.doctor()
    for _ in range(3):
        consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
        for n in range(3):
            sent = await client.post(
                f"/api/consultations/{consultation.id}/messages",
                json={"client_id": f"{consultation.id}-{n}", "body": f"dose {n} mg"},
                headers=patient.headers,
            )
            assert sent.status_code == 201, sent.text
    return 3


@pytest.mark.usefixtures("restore_keys")
async def test_rotation_leaves_nothing_only_the_old_key_opens_and_resumes(
    settings: Settings, client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    files = settings.var_dir / "files"
    old = keyed(settings, KEY_A)
    try:
        await _clinic_data(client, accounts, runtime)
        await LocalFileStore(files).put("ab/referral", security.encrypt_bytes(FILE))
    finally:
        await old.close()

    both = keyed(settings, KEY_B, KEY_A)
    try:
        before = await keys.run(both, files, rotate=False)
        assert before.unreadable == {}
        assert before.old_key["consultations.problem"] == 3
        assert before.old_key["files"] == 1
        total = sum(before.old_key.values())

        # Interrupted: one batch of two rows per table, no files.
        first = await keys.run(both, files, rotate=True, batch_rows=2, max_batches=1)
        assert 0 < sum(first.rotated.values()) < total
        halfway = await keys.run(both, files, rotate=False)
        assert sum(halfway.old_key.values()) == total - sum(first.rotated.values())

        rest = await keys.run(both, files, rotate=True, batch_rows=2)
        assert sum(first.rotated.values()) + sum(rest.rotated.values()) == total
        after = await keys.run(both, files, rotate=False)
        assert after.old_key == {}
        assert after.unreadable == {}
    finally:
        await both.close()

    new_only = keyed(settings, KEY_B)
    try:
        assert (await keys.run(new_only, files, rotate=False)).unreadable == {}
        async with new_only.transaction(write=False) as session:
            problems = (await session.execute(select(Consultation.problem))).scalars().all()
            bodies = (await session.execute(select(Message.body))).scalars().all()
        assert problems == ["Headache for three days"] * 3
        assert {f"dose {n} mg" for n in range(3)} <= set(bodies)
        assert security.decrypt_bytes(await LocalFileStore(files).get("ab/referral")) == FILE
    finally:
        await new_only.close()


@pytest.mark.usefixtures("restore_keys")
async def test_keys_check_names_what_no_current_key_opens(
    settings: Settings, client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    old = keyed(settings, KEY_A)
    try:
        await _clinic_data(client, accounts, runtime)
    finally:
        await old.close()
    ok = run_cli(
        settings.model_copy(update={"field_encryption_keys": [KEY_B, KEY_A]}), "keys", "check"
    )
    assert ok.returncode == 0, ok.stderr
    assert "consultations.problem: 3 still under an older key" in ok.stdout

    lost = run_cli(settings.model_copy(update={"field_encryption_keys": [KEY_B]}), "keys", "check")
    assert lost.returncode == 1
    assert "consultations.problem: 3 opened by no current key" in lost.stderr
    assert KEY_A not in lost.stdout + lost.stderr


def test_the_rotation_finds_every_encrypted_column() -> None:
    found = {
        f"{table.name}.{column.name}"
        for table, columns in keys.encrypted_columns()
        for column in columns
    }
    assert {"consultations.problem", "consultation_messages.body", "consultations.notes"} <= found


def test_new_keys_are_fernet_keys() -> None:
    result = CliRunner().invoke(cli.app, ["keys", "generate"])
    assert result.exit_code == 0
    Fernet(result.stdout.strip())
