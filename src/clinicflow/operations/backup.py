"""`clinicflow backup` and `clinicflow restore` for a SQLite install: one archive holding a
consistent copy of the database and the uploaded files, and never the keys.

The database is copied with SQLite's online backup API (`sqlite3.Connection.backup`) in one
step: one read transaction, which in WAL mode never blocks the server's writers, so the copy
is of one moment while writes go on. (Copying in small steps would restart on every write
made meanwhile, and a busy clinic would never let it finish.) Uploaded files are written
once under a fresh key and never changed (only `keys rotate` rewrites them, atomically), so
copying them after the database leaves no row without its file. Encrypted columns and files
stay encrypted in the archive; `FIELD_ENCRYPTION_KEYS` and the secret key live in the
environment, never in the var directory, so an archive alone opens no clinical text.

A PostgreSQL install backs up with `pg_dump`/`pg_restore` instead (docs/deploy.md).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from clinicflow import migrate
from clinicflow.config import Settings

DATABASE_NAME = "clinicflow.db"
FILES_DIR = "files"
MANIFEST = "manifest.json"
FORMAT = 1


class BackupError(Exception):
    """Something an operator must fix; the message says what."""


def database_path(settings: Settings) -> Path:
    if not settings.is_sqlite:
        raise BackupError(
            "backup and restore are for SQLite; back up PostgreSQL with pg_dump (docs/deploy.md)"
        )
    database = make_url(settings.database_url).database
    if not database or database == ":memory:":
        raise BackupError("the SQLite database is not a file")
    return Path(database)


def backup(settings: Settings, archive: Path) -> dict[str, object]:
    """Write the archive; return its manifest."""
    source = database_path(settings)
    if not source.exists():
        raise BackupError(f"no database at {source}")
    files = settings.var_dir / FILES_DIR
    with tempfile.TemporaryDirectory(prefix="clinicflow-backup-") as work:
        copy = Path(work) / DATABASE_NAME
        live, target = sqlite3.connect(source), sqlite3.connect(copy)
        try:
            live.backup(target)
        finally:
            live.close()
            target.close()
        manifest: dict[str, object] = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(),
            "schema": sorted(migrate.head_revisions()),
            "files": sum(1 for path in files.rglob("*") if path.is_file()) if files.exists() else 0,
        }
        (Path(work) / MANIFEST).write_text(json.dumps(manifest, indent=2))
        archive.parent.mkdir(parents=True, exist_ok=True)
        partial = archive.with_name(archive.name + ".part")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(Path(work) / MANIFEST, arcname=MANIFEST)
            tar.add(copy, arcname=DATABASE_NAME)
            if files.exists():
                tar.add(files, arcname=FILES_DIR, filter=_no_partial_files)
        partial.replace(archive)
    archive.chmod(0o600)
    return manifest


def _no_partial_files(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if member.name.endswith(".part") else member


def restore(settings: Settings, archive: Path) -> dict[str, object]:
    """Bring an archive back into an empty install (no database file, no uploaded files)."""
    target = database_path(settings)
    files = settings.var_dir / FILES_DIR
    if target.exists() and target.stat().st_size > 0:
        raise BackupError(f"{target} exists: restore only into an empty install")
    if files.exists() and any(files.iterdir()):
        raise BackupError(f"{files} holds files: restore only into an empty install")
    with tarfile.open(archive, "r:gz") as tar, tempfile.TemporaryDirectory() as work:
        tar.extractall(work, filter="data")
        manifest: dict[str, object] = json.loads((Path(work) / MANIFEST).read_text())
        if manifest.get("format") != FORMAT:
            raise BackupError(f"unknown archive format {manifest.get('format')!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(work) / DATABASE_NAME, target)
        if (Path(work) / FILES_DIR).exists():
            shutil.copytree(Path(work) / FILES_DIR, files, dirs_exist_ok=True)
    return manifest
