"""Field-encryption keys: move every encrypted column and file to the first key, and report
what no current key opens.

`FIELD_ENCRYPTION_KEYS` lists keys newest first; the first encrypts, all decrypt. Rotation is:
put a new key first, run `clinicflow keys rotate`, check with `clinicflow keys check`, then
drop the old key. Rotating rewrites each value with `MultiFernet.rotate` (decrypt with
whichever key opens it, encrypt under the first) a batch of rows per transaction, skipping
values the first key already opens, so an interrupted rotation simply runs again and
carries on where the rows still need it. The encrypted columns are found from the models
(every `EncryptedText` column), so a new one is rotated without a change here; the files
are the attachment store's (`var/files/`), each rewritten aside and renamed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Column, Table, Text, select, tuple_, type_coerce, update

from clinicflow.core.security import EncryptedText, derive_field_key
from clinicflow.models import metadata
from clinicflow.runtime import Runtime

BATCH_ROWS = 500


@dataclass
class Report:
    """What a rotation rewrote, or what a check found, by `table.column` (and `files`)."""

    rotated: dict[str, int] = field(default_factory=dict)
    # Opened only by a key after the first: still to rotate.
    old_key: dict[str, int] = field(default_factory=dict)
    # Opened by no current key: a lost key, or damage.
    unreadable: dict[str, int] = field(default_factory=dict)

    def add(self, bucket: dict[str, int], where: str) -> None:
        bucket[where] = bucket.get(where, 0) + 1


def encrypted_columns() -> Iterator[tuple[Table, list[Column[Any]]]]:
    for table in metadata.sorted_tables:
        columns = [column for column in table.columns if isinstance(column.type, EncryptedText)]
        if columns:
            yield table, columns


class Keys:
    """The configured keys, as rotation sees them."""

    def __init__(self, keys: list[str]) -> None:
        self.first = Fernet(keys[0])
        self.all = MultiFernet([Fernet(key) for key in keys])

    def state(self, token: bytes) -> str:
        """ "current", "old" (another key opens it) or "unreadable"."""
        try:
            self.first.decrypt(token)
            return "current"
        except InvalidToken:
            pass
        try:
            self.all.decrypt(token)
            return "old"
        except InvalidToken:
            return "unreadable"


async def _table_pass(
    runtime: Runtime,
    keys: Keys,
    table: Table,
    columns: list[Column[Any]],
    report: Report,
    *,
    rotate: bool,
    batch_rows: int,
    max_batches: int | None,
) -> int:
    """One pass over a table in primary-key order, a batch per transaction; the batches run."""
    key = list(table.primary_key.columns)
    raw = [type_coerce(column, Text()).label(column.name) for column in columns]
    last: tuple[Any, ...] | None = None
    batches = 0
    while max_batches is None or batches < max_batches:
        query = select(*key, *raw).order_by(*key).limit(batch_rows)
        if last is not None:
            query = query.where(tuple_(*key) > tuple_(*last))
        async with runtime.transaction() as session:
            rows = (await session.execute(query)).all()
            for row in rows:
                changes: dict[str, Any] = {}
                for column in columns:
                    value = row._mapping[column.name]
                    if value is None:
                        continue
                    where = f"{table.name}.{column.name}"
                    state = keys.state(value.encode("ascii"))
                    if state == "unreadable":
                        report.add(report.unreadable, where)
                    elif state == "old" and rotate:
                        rotated = keys.all.rotate(value.encode("ascii")).decode("ascii")
                        changes[column.name] = type_coerce(rotated, Text())
                        report.add(report.rotated, where)
                    elif state == "old":
                        report.add(report.old_key, where)
                if changes:
                    match = [part == row._mapping[part.name] for part in key]
                    await session.execute(update(table).where(*match).values(changes))
        batches += 1
        if len(rows) < batch_rows:
            break
        last = tuple(row._mapping[part.name] for part in key)
    return batches


def _files(root: Path) -> Iterator[Path]:
    if root.exists():
        yield from sorted(
            path for path in root.rglob("*") if path.is_file() and not path.name.endswith(".part")
        )


def _file_pass(keys: Keys, root: Path, report: Report, *, rotate: bool) -> None:
    for path in _files(root):
        token = path.read_bytes()
        state = keys.state(token)
        if state == "unreadable":
            report.add(report.unreadable, "files")
        elif state == "old" and rotate:
            partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
            partial.write_bytes(keys.all.rotate(token))
            os.replace(partial, path)
            report.add(report.rotated, "files")
        elif state == "old":
            report.add(report.old_key, "files")


async def run(
    runtime: Runtime,
    files: Path,
    *,
    rotate: bool,
    batch_rows: int = BATCH_ROWS,
    max_batches: int | None = None,
) -> Report:
    """Rotate (or only check) every encrypted column and file. `max_batches` stops each
    table after that many batches (an interrupted run, in the tests); files come last."""
    settings = runtime.settings
    # Outside production no keys may be set: the one derived from the secret key is in use.
    keys = Keys(settings.field_encryption_keys or [derive_field_key(settings.secret_key)])
    report = Report()
    for table, columns in encrypted_columns():
        await _table_pass(
            runtime,
            keys,
            table,
            columns,
            report,
            rotate=rotate,
            batch_rows=batch_rows,
            max_batches=max_batches,
        )
    if max_batches is None:
        _file_pass(keys, files, report, rotate=rotate)
    return report
