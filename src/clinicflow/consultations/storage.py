"""Where attachment bytes live: behind `FileStore`, so a later issue can point it at object
storage without the service noticing. Keys are made by the service, never by a client."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path
from typing import Protocol

from clinicflow.config import Settings

KEY = re.compile(r"^[a-z0-9-]+(/[a-z0-9-]+)*$")


class FileStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes: ...


class LocalFileStore:
    """Files under one directory (`var/files/` by default), one file per key."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        # Keys come from the service, but a path built from anything is checked anyway:
        # no "..", no absolute path, nothing outside the root.
        if not KEY.match(key):
            raise ValueError(f"bad storage key {key!r}")
        return self.root / key

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, self._path(key), data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        # Written aside and renamed, so a reader never sees half a file.
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
        partial.write_bytes(data)
        os.replace(partial, path)


def file_store(settings: Settings) -> FileStore:
    return LocalFileStore(settings.var_dir / "files")
