"""Static files under versioned URLs, so a browser may keep them for a year.

Every URL a page gives for a static file carries the file's content hash
(`/static/js/chat.js?v=3f2a9c41d07e`), taken once per process from the bytes on disk. A
request whose `v` is the current hash of a file that has not changed since is answered with
`Cache-Control: public, max-age=31536000, immutable`: new bytes always come under a new
URL, so the cached copy can never be stale. Anything else (no `v`, an old one, a file edited
since the process started) still gets the file, but with `no-cache`, so the browser asks
again every time.

Scripts are ES modules and import each other by bare name (`import { ClinicSocket } from
"realtime"`). The import map in `base.html` turns each name into its versioned URL, so a
module's import changes when the module it imports changes, while its own bytes (and so its
own URL and cache entry) stay the same.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import QueryParams
from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
VERSION_LENGTH = 12

# The modules that other modules import, by the bare name they import them by. A name
# missing here fails in the browser ("Failed to resolve module specifier"); tests/web
# checks that every name a module imports is listed.
MODULES = {
    "htmx": "vendor/htmx-2.0.11.esm.min.js",
    "uplot": "vendor/uplot-1.6.32.esm.js",
    "realtime": "js/realtime.js",
    "chat": "js/chat.js",
    "call-media": "js/call-media.js",
    "call-livekit": "js/call-livekit.js",
    "livekit": "vendor/livekit-client-2.23.0.esm.js",
    "moments": "js/moments.js",
    "offline-store": "js/offline-store.js",
    "outbox-sync": "js/outbox-sync.js",
}


@dataclass(frozen=True)
class Fingerprint:
    """A file as it was when its hash was taken; size and mtime tell if it changed since."""

    version: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> Fingerprint:
        stat = path.stat()
        version = hashlib.sha256(path.read_bytes()).hexdigest()[:VERSION_LENGTH]
        return cls(version=version, size=stat.st_size, mtime_ns=stat.st_mtime_ns)

    def still_matches(self, stat: os.stat_result) -> bool:
        return stat.st_size == self.size and stat.st_mtime_ns == self.mtime_ns


class Assets:
    """The hash of every file under one static directory, taken once."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files = {
            path.relative_to(directory).as_posix(): Fingerprint.of(path)
            for path in sorted(directory.rglob("*"))
            if path.is_file()
        }

    def url(self, name: str) -> str:
        """The versioned URL of `name` (`"js/chat.js"`); a name that is not a file fails the
        page loudly rather than linking to a 404."""
        fingerprint = self.files.get(name)
        if fingerprint is None:
            raise LookupError(f"no static file {name!r} in {self.directory}")
        return f"{STATIC_PATH}/{name}?v={fingerprint.version}"

    def import_map(self) -> dict[str, dict[str, str]]:
        return {"imports": {module: self.url(name) for module, name in MODULES.items()}}

    def is_current(self, name: str, version: str | None, stat: os.stat_result) -> bool:
        fingerprint = self.files.get(name)
        return (
            fingerprint is not None
            and version == fingerprint.version
            and fingerprint.still_matches(stat)
        )


class VersionedStaticFiles(StaticFiles):
    """StaticFiles that tells the browser how long it may keep each answer."""

    def __init__(self, assets: Assets) -> None:
        super().__init__(directory=assets.directory)
        self.assets = assets
        self.root = os.path.realpath(assets.directory)

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        name = Path(os.path.relpath(full_path, self.root)).as_posix()
        version = QueryParams(scope["query_string"]).get("v")
        current = self.assets.is_current(name, version, stat_result)
        response.headers["Cache-Control"] = IMMUTABLE if current else REVALIDATE
        return response


ASSETS = Assets(STATIC_DIR)
