"""`clinicflow backup` while the clinic goes on writing, `clinicflow restore` into an empty
install: every row, file and encrypted note reads back, the copy is of one moment (no
message without its predecessors), and the archive holds no key."""

from __future__ import annotations

import asyncio
import tarfile
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from clinicflow import db
from clinicflow.config import Settings
from clinicflow.consultations.models import Consultation, Message
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.consultations.storage import LocalFileStore
from clinicflow.core import security
from clinicflow.models import metadata
from clinicflow.operations import backup as backups
from clinicflow.runtime import Runtime
from tests.conftest import TEST_DATABASE_URL
from tests.consultations.clinic import Clinic
from tests.factories import Accounts, run_cli

pytestmark = [
    pytest.mark.usefixtures("app"),
    pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's backup; PostgreSQL uses pg_dump"),
]

FILE = b"%PDF-1.4 a scanned referral letter"


async def _row_keys(engine: AsyncEngine) -> dict[str, set[tuple[object, ...]]]:
    """The primary key of every row of every table."""
    async with engine.connect() as connection:
        return {
            table.name: {
                tuple(row) for row in await connection.execute(select(*table.primary_key.columns))
            }
            for table in metadata.sorted_tables
        }


async def test_backup_while_writing_then_restore_reads_everything_back(
    settings: Settings,
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    tmp_path: Path,
) -> None:
    clinic = Clinic(client, accounts, runtime)
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, ConsultationStatus.active)
    await LocalFileStore(settings.var_dir / "files").put(
        "ab/referral", security.encrypt_bytes(FILE)
    )
    sent: list[str] = []
    stop = asyncio.Event()
    progress = asyncio.Condition()

    async def until_sent(count: int) -> None:
        async with progress:
            await progress.wait_for(lambda: len(sent) >= count)

    async def keep_writing() -> None:
        while not stop.is_set():
            body = f"message {len(sent)}"
            answer = await client.post(
                f"/api/consultations/{consultation.id}/messages",
                json={"client_id": body.replace(" ", "-"), "body": body},
                headers=patient.headers,
            )
            assert answer.status_code == 201, answer.text
            sent.append(body)
            async with progress:
                progress.notify_all()

    before = await _row_keys(runtime.engine)
    assert sum(map(len, before.values())) > 10
    writer = asyncio.create_task(keep_writing())
    await until_sent(5)
    archive = tmp_path / "backups" / "clinic.tar.gz"
    manifest = await asyncio.to_thread(backups.backup, settings, archive)
    written_during = len(sent)
    await until_sent(written_during + 3)
    stop.set()
    await writer
    assert manifest["files"] == 1

    with tarfile.open(archive) as tar:
        names = tar.getnames()
        contents = b"".join(
            extracted.read()
            for member in tar.getmembers()
            if (extracted := tar.extractfile(member))
        )
    assert set(names) >= {"manifest.json", "clinicflow.db", "files/ab/referral"}
    assert settings.secret_key.encode() not in contents
    field_keys = settings.field_encryption_keys or [security.derive_field_key(settings.secret_key)]
    assert not any(key.encode() in contents for key in field_keys)
    assert b"Headache for three days" not in contents  # encrypted at rest, in the copy too

    fresh = tmp_path / "restored"
    restored = settings.model_copy(
        update={"database_url": f"sqlite+aiosqlite:///{fresh / 'clinicflow.db'}", "var_dir": fresh}
    )
    await asyncio.to_thread(backups.restore, restored, archive)
    engine = db.create_engine(restored.database_url)
    try:
        after = await _row_keys(engine)
        async with engine.connect() as connection:
            problem = await connection.scalar(select(Consultation.problem))
            bodies = (
                (await connection.execute(select(Message.body).order_by(Message.seq)))
                .scalars()
                .all()
            )
    finally:
        await engine.dispose()
    assert problem == "Headache for three days"
    # Every row of every table written before the backup began is in the copy.
    assert {name: rows - after[name] for name, rows in before.items() if rows - after[name]} == {}
    # One moment: the messages are the first n sent, every one before it, none after a gap
    # (n may count the one stored but not yet answered when the copy ended).
    copied = [body for body in bodies if body.startswith("message ")]
    assert 5 <= len(copied) <= written_during + 1
    assert copied == sent[: len(copied)]
    stored = await LocalFileStore(fresh / "files").get("ab/referral")
    assert security.decrypt_bytes(stored) == FILE

    with pytest.raises(backups.BackupError, match="empty install"):
        backups.restore(restored, archive)


def test_backup_refuses_postgresql(settings: Settings, tmp_path: Path) -> None:
    server = settings.model_copy(update={"database_url": "postgresql+asyncpg://u@db/clinic"})
    with pytest.raises(backups.BackupError, match="pg_dump"):
        backups.backup(server, tmp_path / "x.tar.gz")


def test_the_command_names_what_is_wrong(settings: Settings, tmp_path: Path) -> None:
    """As an operator sees it: the real command, its exit status and message."""
    written = run_cli(settings, "backup", str(tmp_path / "ok.tar.gz"))
    assert written.returncode == 0, written.stderr
    again = run_cli(settings, "restore", str(tmp_path / "ok.tar.gz"))
    assert again.returncode == 2
    assert "empty install" in again.stderr
